"""Frame storage (content-addressed by sha256) and box overlays."""

from api.frames.store import (
    FrameStore,
    FrameStoreConfig,
    LocalFrameStore,
    LocalFrameStoreConfig,
    make_frame_store,
)

__all__ = ["FrameStore", "FrameStoreConfig", "LocalFrameStore", "LocalFrameStoreConfig", "make_frame_store"]
