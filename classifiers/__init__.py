"""Understanding a message: the fine-tuned local transformer for intent (+ confidence, out-of-scope),
severity and sentiment, its training pipeline, ONNX export and benchmarks. (Filled by the classifiers
issue.)"""
