"""Which encoders Train may fine-tune: a local model folder or a model in the local Hugging
Face cache, checked before any data is read; never a download.

A backbone that is neither used to make ``from_pretrained`` try the Hub, which on a machine
without internet hung for ≈55 s and then failed with INTERNAL (issue 11, finding 7). Every
load is ``local_files_only``; :func:`check_backbone` refuses what cannot load that way with
INVALID_ARGUMENT in the caller's terms.
"""

from __future__ import annotations

import logging
from pathlib import Path

from synthclf.core.errors import InvalidInput
from synthclf.core.limits import shown

log = logging.getLogger("synthclf.training")
#: Longest backbone name or path accepted, characters.
MAX_BACKBONE_CHARS = 512


def check_backbone(backbone: str | None) -> None:
    """Refuse a backbone that cannot be loaded offline.

    Args:
        backbone: a local folder holding a Hugging Face model (``config.json`` and weights),
            a model id already in the local Hugging Face cache, or None (the default encoder).

    Raises:
        InvalidInput: too long, a folder without ``config.json``, a file, or an id that is not
            in the local cache (the service never downloads models).
    """
    if backbone is None:
        return
    if len(backbone) > MAX_BACKBONE_CHARS or "\x00" in backbone:
        raise InvalidInput(f"backbone '{shown(backbone)}' is not a model name or folder")
    from transformers import AutoConfig

    path = Path(backbone)
    if path.is_absolute() or path.exists():
        if not (path.is_dir() and (path / "config.json").is_file()):
            raise InvalidInput(f"backbone '{shown(backbone, 200)}' is not a Hugging Face model "
                               "folder (a folder with config.json and the weights)")
    try:
        AutoConfig.from_pretrained(backbone, local_files_only=True)
    except Exception as exc:  # OSError, ValueError, and whatever a bad config.json raises
        log.warning("backbone %r cannot be loaded offline: %s", backbone, exc)
        raise InvalidInput(
            f"backbone '{shown(backbone, 200)}' is neither a model folder on the training "
            "server nor a model in its local Hugging Face cache (models are never downloaded)"
        ) from exc
