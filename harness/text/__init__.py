"""Text side of a sample: tokenizers (byte proxy, tokenizer.json, SentencePiece), TinyLLaVA's chat
templates, and the label-mask analysis that replays its masking rule."""
