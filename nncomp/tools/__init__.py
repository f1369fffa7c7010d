"""Offline tools beside the codec: joint reports, stream descriptions, prior training."""
