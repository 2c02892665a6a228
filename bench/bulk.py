"""Bulk-run throughput of the core (store, chunking, results, exports) with a fast in-memory backend.

Target (issue 5): a 100,000-row bulk run completes end to end in well under 60 s on 2 cores.
Prints: rows, seconds to classify and commit, rows/s, results assembly, CSV and XLSX export times.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from finsent import hookimpl
from finsent.contract.backend import Backend, BaseModelInfo, ModelRef, Prediction
from finsent.output.export import to_csv_bytes, to_xlsx_bytes
from finsent.plugins import BackendRegistry, get_plugin_manager
from finsent.service import BulkRequest, FinsentService
from finsent.settings import Settings


class FastBackend(Backend):
    """Classifies by text length: the cost of the backend itself is close to nothing."""

    name = "fast"
    label = "Fast"
    classify_batch_size = 2000

    def base_models(self) -> list[BaseModelInfo]:
        return []

    def prepare_training_data(self, dataset, options, workdir):  # type: ignore[no-untyped-def]
        raise NotImplementedError

    def start_training(self, data, options):  # type: ignore[no-untyped-def]
        raise NotImplementedError

    def poll_job(self, external_id, cursor=None):  # type: ignore[no-untyped-def]
        raise NotImplementedError

    def classify(self, model: ModelRef, texts):  # type: ignore[no-untyped-def]
        names = model.labels.names
        out = []
        for text in texts:
            label = names[len(text) % len(names)]
            out.append(Prediction(label, 0.9, {n: (0.9 if n == label else 0.05) for n in names}))
        return out


class Plugin:
    @staticmethod
    @hookimpl
    def register_backends(register):  # type: ignore[no-untyped-def]
        register(FastBackend)


def main(rows: int = 100_000) -> None:
    with tempfile.TemporaryDirectory() as home:
        settings = Settings(home=Path(home), load_plugins=())
        pm = get_plugin_manager(settings)
        pm.register(Plugin, name="bench")
        service = FinsentService(settings, registry=BackendRegistry.from_plugin_manager(pm))
        service.add_model("fast", "m")
        rng = np.random.default_rng(0)
        frame = pd.DataFrame(
            {
                "id": np.arange(rows).astype(str),
                "title": [
                    f"삼성전자 영업이익 {n}% 증가 전망 기사 본문 일부" for n in rng.integers(0, 10_000, rows)
                ],
                "date": ["2026-01-01"] * rows,
            }
        )
        t0 = time.perf_counter()
        run = service.start_bulk_run(BulkRequest("fast", "m", frame, "title", "bench.csv"))
        record = service.wait_bulk_run(run.id, timeout=600)
        t1 = time.perf_counter()
        results = service.bulk_results(run.id).frame
        t2 = time.perf_counter()
        csv = to_csv_bytes(results)
        t3 = time.perf_counter()
        xlsx = to_xlsx_bytes(results)
        t4 = time.perf_counter()
        assert record.status == "succeeded" and len(results) == rows
        print(f"rows                       {rows:>10,}")
        print(
            f"store input + classify     {t1 - t0:>10.2f} s  ({rows / (t1 - t0):,.0f} rows/s, target: well under 60 s)"
        )
        print(f"results assembly           {t2 - t1:>10.2f} s")
        print(f"CSV export (UTF-8 BOM)     {t3 - t2:>10.2f} s  ({len(csv) / 1e6:.1f} MB)")
        print(f"XLSX export                {t4 - t3:>10.2f} s  ({len(xlsx) / 1e6:.1f} MB)")
        print(f"end to end (run+CSV)       {t3 - t0:>10.2f} s")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000)
