"""The successor of `prepare_data`: the pipeline, checks that drop rows, checks that only report, the
findings catalogue, the fast column scan and the training-file writers."""
