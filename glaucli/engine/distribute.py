"""Where training runs: precision, XLA and the distribution strategy, and the epoch loop
for several machines (MultiWorkerMirroredStrategy), where Keras 3's own fit fails."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from typing import Callable

from glaucli.engine import precision
from glaucli.errors import UsageError


@dataclass
class Hardware:
    """Where a training runs, as meta.json records it; `distribution` is the live
    tf.distribute strategy (not recorded)."""
    precision: str
    xla: bool
    strategy: str  # none, mirrored or multiworker
    replicas: int
    global_batch: int
    per_replica_batch: int
    chief: bool
    distribution: object = field(repr=False, compare=False, default=None)

    def to_meta(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "distribution"}

    @property
    def fit(self) -> Callable:
        """The epoch loop: Keras' own, or ours where Keras 3's fails (several machines)."""
        return distributed_fit if self.strategy == "multiworker" else keras_fit


def setup_hardware(mixed_precision: str, xla: bool | None, strategy: str, batch_size: int,
                   devices: dict) -> Hardware:
    """Precision, XLA and distribution strategy for this machine; sets the Keras policy."""
    from glaucli.tf import tensorflow

    tf = tensorflow()
    gpus = devices["gpus"]
    policy = precision.choose(mixed_precision, gpus, devices.get("cpu_bfloat16", []))
    precision.use(policy)
    cluster = tf_config_workers()
    name = strategy
    if name == "auto":
        name = "multiworker" if cluster > 1 else "mirrored" if len(gpus) > 1 else "none"
    if name == "multiworker":
        if cluster < 2:
            raise UsageError("--strategy multiworker needs TF_CONFIG naming two or more workers",
                             hint="see README: Training on several machines")
        distribution = tf.distribute.MultiWorkerMirroredStrategy()
    elif name == "mirrored":
        # All GPUs; without GPUs, every logical CPU device (how tests and CPU hosts mirror).
        devices_ = None if gpus else [d.name for d in tf.config.list_logical_devices("CPU")]
        distribution = tf.distribute.MirroredStrategy(devices=devices_)
    else:
        distribution = tf.distribute.get_strategy()  # the default, single-device strategy
    replicas = distribution.num_replicas_in_sync
    return Hardware(precision=policy, xla=bool(gpus) if xla is None else xla, strategy=name, replicas=replicas,
                    global_batch=batch_size, per_replica_batch=max(1, batch_size // replicas),
                    chief=is_chief(), distribution=distribution)


def _tf_config() -> dict:
    """TF_CONFIG as a dict ({} when unset); garbage is a usage error naming the variable."""
    import json

    from glaucli.errors import UsageError

    try:
        config_ = json.loads(os.environ.get("TF_CONFIG", "") or "{}")
    except (ValueError, RecursionError):
        config_ = None
    ok = (isinstance(config_, dict) and isinstance(config_.get("cluster", {}), dict)
          and isinstance(config_.get("task", {}), dict)
          and all(isinstance(v, list) for v in config_.get("cluster", {}).values()))
    if not ok:
        raise UsageError("TF_CONFIG is not a JSON object {\"cluster\": {...}, \"task\": {...}}",
                         hint="unset TF_CONFIG, or see TensorFlow's multi-worker guide")
    return config_


def tf_config_workers() -> int:
    """How many workers (chief included) TF_CONFIG names; 0 without TF_CONFIG."""
    cluster = _tf_config().get("cluster", {})
    return len(cluster.get("worker", [])) + len(cluster.get("chief", []))


def is_chief() -> bool:
    """The one process that writes the run folder: TF_CONFIG's chief, else worker 0."""
    config_ = _tf_config()
    task = config_.get("task", {})
    if not task:
        return True
    if "chief" in config_.get("cluster", {}):
        return task.get("type") == "chief"
    return task.get("type") == "worker" and int(task.get("index", 0)) == 0


def keras_fit(model, strategy, train_ds, epochs, initial_epoch, steps, class_weight, callbacks, batch):
    """One device or MirroredStrategy: Keras' own loop. Validation is the run callback's."""
    model.fit(train_ds, epochs=epochs, initial_epoch=initial_epoch,
              steps_per_epoch=steps, class_weight=class_weight, verbose=0, callbacks=callbacks)


def distributed_fit(model, strategy, train_ds, epochs, initial_epoch, steps, class_weight,
                    callbacks, batch):
    """Model.fit's epoch loop for MultiWorkerMirroredStrategy, where Keras 3's own fit fails
    (keras-team/keras#20585): strategy.run over a distributed dataset, GradientTape, the
    optimizer's apply_gradients, and the same callbacks, so checkpoints, history, early
    stopping and progress behave as in every other run. Validation (in the run callback)
    runs on each worker alone over the whole split, so every worker takes the same stop
    decisions."""

    from glaucli.tf import keras, tensorflow

    tf, k = tensorflow(), keras()
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    iterator = iter(strategy.experimental_distribute_dataset(train_ds.with_options(options)))
    weights = tf.constant([class_weight.get(0, 1.0), class_weight.get(1, 1.0)] if class_weight else [1.0, 1.0])
    bce = k.losses.BinaryCrossentropy(reduction=None)

    @tf.function
    def train_step(it):
        def step(x, y):
            with tf.GradientTape() as tape:
                p = model(x, training=True)
                per_example = bce(y[:, None], p) * tf.gather(weights, tf.cast(y, tf.int32))
                loss = tf.nn.compute_average_loss(per_example, global_batch_size=batch)
            grads = tape.gradient(loss, model.trainable_variables)
            model.optimizer.apply_gradients(zip(grads, model.trainable_variables))
            correct = tf.reduce_sum(tf.cast(tf.equal(tf.cast(p[:, 0] >= 0.5, tf.float32), y), tf.float32))
            return loss, correct

        loss, correct = strategy.run(step, args=next(it))
        return (strategy.reduce(tf.distribute.ReduceOp.SUM, loss, axis=None),
                strategy.reduce(tf.distribute.ReduceOp.SUM, correct, axis=None))

    callback_list = k.callbacks.CallbackList(callbacks, model=model)
    model.stop_training = False
    callback_list.on_train_begin()
    for epoch in range(initial_epoch, epochs):
        callback_list.on_epoch_begin(epoch)
        total_loss = total_correct = 0.0
        for i in range(steps):
            loss, correct = train_step(iterator)
            total_loss, total_correct = total_loss + float(loss), total_correct + float(correct)
            logs = {"loss": total_loss / (i + 1), "accuracy": total_correct / ((i + 1) * batch)}
            callback_list.on_train_batch_end(i, logs)
        callback_list.on_epoch_end(epoch, dict(logs))
        if model.stop_training:
            break
    callback_list.on_train_end()
