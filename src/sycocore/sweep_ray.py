"""The Ray executor of ``syco sweep``: each model is one Ray task.

Ray is an optional dependency; :func:`import_ray` names the install command
when it is missing.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from typing import Any

from .errors import MissingDependencyError
from .sweep import RAY_INSTALL, RAY_OBJECT_STORE_BYTES, Outcome, _Job, run_model

__all__ = ["forwarded_environment", "import_ray", "run_ray"]

logger = logging.getLogger(__name__)


def import_ray() -> Any:
    """Import Ray, or raise :class:`MissingDependencyError` with the install command."""
    try:
        import ray
    except ImportError:
        raise MissingDependencyError("ray", RAY_INSTALL, "syco sweep --executor ray") from None
    return ray


def forwarded_environment() -> dict[str, str]:
    """Return the ``SYCO_*`` variables that Ray workers on other machines need too."""
    return {key: value for key, value in os.environ.items() if key.startswith("SYCO_")}


def _shortfall(available: dict[str, float], cpus: float, gpus: float) -> str | None:
    """Say which resource the cluster has too little of for one task, or return ``None``."""
    if available.get("CPU", 0.0) < cpus:
        return f"{cpus:g} CPUs but the Ray cluster has {available.get('CPU', 0.0):g}"
    if available.get("GPU", 0.0) < gpus:
        return f"{gpus:g} GPUs but the Ray cluster has {available.get('GPU', 0.0):g}"
    return None


def run_ray(jobs: list[_Job], record: Callable[[_Job, Outcome], None], address: str | None) -> None:
    """Run each job as one Ray task and record outcomes as tasks finish.

    Without ``address`` a local Ray instance is started on 127.0.0.1 with no
    dashboard and shut down at the end. Its workers inherit this process's
    environment, so they find the same plugins. With ``address`` the
    ``SYCO_*`` variables are forwarded to the workers, and the sweep directory
    must be on a file system that every node mounts at the same path.
    """
    ray = import_ray()
    started_here = not ray.is_initialized()
    if started_here and address is None:
        ray.init(
            address="local",
            _node_ip_address="127.0.0.1",
            include_dashboard=False,
            object_store_memory=RAY_OBJECT_STORE_BYTES,
            log_to_driver=True,
        )
    elif started_here:
        ray.init(address=address, runtime_env={"env_vars": forwarded_environment()})
    try:
        available = {key: float(value) for key, value in ray.cluster_resources().items()}
        task = ray.remote(run_model)
        pending: dict[Any, _Job] = {}
        for job in jobs:
            cpus, gpus = job.entry.resources.num_cpus, job.entry.gpus()
            shortfall = _shortfall(available, cpus, gpus)
            if shortfall is not None and address is None:
                record(
                    job,
                    {
                        "status": "failed",
                        "message": f"the model's Ray task needs {shortfall}; lower its "
                        "[model.resources] or run on a cluster with --address",
                    },
                )
                continue
            if shortfall is not None:
                # An autoscaling cluster may add the resources later.
                logger.warning(
                    "model %r needs %s; its task waits until the cluster has them",
                    job.entry.name,
                    shortfall,
                )
            reference = task.options(
                num_cpus=cpus, num_gpus=gpus, max_retries=0, name=f"syco-sweep:{job.entry.name}"
            ).remote(job.config)
            pending[reference] = job

        try:
            while pending:
                finished, _ = ray.wait(list(pending), num_returns=1)
                for reference in finished:
                    job = pending.pop(reference)
                    try:
                        outcome = ray.get(reference)
                    except ray.exceptions.RayError as error:
                        lines = [line for line in str(error).splitlines() if line.strip()]
                        outcome = {
                            "status": "failed",
                            "message": f"the Ray task failed: {type(error).__name__}: "
                            f"{lines[-1].strip() if lines else ''}",
                        }
                    record(job, outcome)
        except KeyboardInterrupt:
            for reference in pending:
                ray.cancel(reference, force=True)
            raise
    finally:
        if started_here:
            ray.shutdown()
