"""Datasets on disk: download, layout, the one image loader, tf.data, the sample set."""
