"""Labelled chat lines written for this project (intents_{train,test}.jsonl), shipped as package data."""
