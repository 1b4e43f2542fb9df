"""Trained chat weights (chat.npz), shipped as package data; rebuild with ``livelens train-chat``."""
