"""Finetuning: the label loss alone, the baseline every other method is compared with.

The shared loop's default hooks are exactly this method; the class only names it.
"""
from __future__ import annotations

from jobs.contracts.enums import MethodName
from jobs.methods.loop import Method


class Finetune(Method):
    """Cross-entropy on the labels of the confounded training set."""

    name = MethodName.FINETUNE
