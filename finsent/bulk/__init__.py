"""Bulk runs: input storage, the chunk executor, provider batches and the results assembly."""
