"""The target model itself, with random weights: presets (plain data), the model built from them with
``from_config`` (never downloading), and its measured training step. torch, transformers and peft are
imported inside functions only, so ``harness --help`` stays light."""
