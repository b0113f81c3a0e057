"""Leaving a torch.distributed process group cleanly, for every polyret entry point under torchrun."""

from __future__ import annotations


def leave_process_group() -> None:
    """Under torchrun, wait for every rank and close the group before the process exits.

    A rank that exits while another still works (saving, writing a shard) leaves gloo's threads
    running, and the C++ runtime aborts it ("terminate called without an active exception",
    exit -6). Without a process group this does nothing.
    """
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()
