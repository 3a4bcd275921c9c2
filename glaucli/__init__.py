"""glaucli: glaucoma screening from fundus photographs (research use only).

Importing this package imports no TensorFlow: heavy libraries load inside the
functions that need them, so `glaucli --help` stays fast.
"""

__version__ = "0.1.0"
