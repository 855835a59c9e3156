"""The shop's knowledge: ingest policy and product documents into a chroma store and retrieve cited
passages with hybrid (dense + BM25) search. (Filled by the knowledge issue.)"""
