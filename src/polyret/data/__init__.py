"""Data: records, file formats (LAReQA, BEIR, MIRACL, TREC) and the dataset registry."""
