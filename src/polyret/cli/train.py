"""``polyret train``: fine-tune a multilingual retriever with mono, cross or hybrid batches."""

from __future__ import annotations

import argparse
from typing import Any

from polyret.cli.parser import ArgumentParser
from polyret.flags import add_no_progress
from polyret.training.config import add_config_arguments, resolve_config
from polyret.training.presets import PRESETS


def build_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(
        prog="polyret train",
        description="Fine-tune a retriever contrastively (in-batch negatives) on parallel QA pairs with "
        "monolingual, cross-lingual or hybrid batches (arXiv 2408.10536). Options come from --config "
        "FILE.yaml and/or flags (flags win); the resolved config is saved beside the checkpoints. "
        "Multi-GPU: `accelerate launch -m polyret.cli.main train ...` or `torchrun --nproc-per-node N "
        "-m polyret.cli.main train ...`.",
    )
    parser.add_argument(
        "--config",
        default=None,
        help="YAML file with any of the options below (strategy, alpha and pair_weighting at the "
        "top level or under sampler:)",
    )
    parser.add_argument(
        "--preset",
        default=None,
        choices=sorted(PRESETS),
        help="start from a named recipe, the options a committed result trained with ("
        + "; ".join(f"{p.name}: {p.summary}, {p.evidence}" for p in PRESETS.values())
        + "); --config and flags override any of them",
    )
    parser.add_argument(
        "--resume",
        action="store_true",
        help="continue the run in --output-dir from its last checkpoint",
    )
    parser.add_argument(
        "--push-to-hub",
        metavar="OWNER/NAME",
        default=None,
        help="upload the final model to this hub repository (checked before training: a "
        "token and a reachable hub)",
    )
    parser.add_argument(
        "--print-config",
        action="store_true",
        help="print the resolved configuration (YAML, loadable with --config) and exit",
    )
    add_config_arguments(parser)
    add_no_progress(parser)
    return parser


# Flags about this invocation, not training options (--no-progress: polyret.cli.main).
RUN_FLAGS = ("config", "preset", "resume", "print_config", "no_progress", "push_to_hub")


def split_args(argv: list[str]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(this invocation's flags, the training options given) from the command line."""
    args = vars(build_parser().parse_args(argv))
    return {k: args.pop(k) for k in RUN_FLAGS}, args


def main(argv: list[str]) -> int:
    run, options = split_args(argv)
    config_file, resume = run["config"], run["resume"]
    print_config, push_to = run["print_config"], run["push_to_hub"]
    config = resolve_config(config_file, options, run["preset"])
    if print_config:
        import yaml

        print(yaml.safe_dump(config.to_dict(), sort_keys=False, allow_unicode=True), end="")
        return 0
    if push_to is not None:
        from polyret.hub import check_hub

        check_hub(push_to)
    from polyret.distributed import leave_process_group
    from polyret.training.trainer import train

    result = train(config, resume=resume)
    leave_process_group()
    print(
        f"trained {result.global_step} steps in {result.seconds:.0f} s ({result.samples_per_second:.1f} samples/s)"
    )
    if result.dev_metrics:
        print("dev: " + "  ".join(f"{k}={v:.4f}" for k, v in result.dev_metrics.items()))
    if result.final_model.exists():
        kept = (
            f" (step {result.best_step}, best dev {config.best_metric})" if result.best_step else ""
        )
        print(f"final model: {result.final_model}{kept}")
        if push_to is not None:
            from polyret.hub import push_folder

            print(f"pushed to {push_folder(result.final_model, push_to)}")
    return 0
