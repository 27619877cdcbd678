#!/usr/bin/env python3
"""`make bench` continues an interrupted run (bench/compare.py --state) and prints both shares of the sgemm peak:
checked with a stand-in engine that prints fixed records and counts its calls, so no PyTorch and no timing is
involved. Run by `make test`."""

import json
import os
import subprocess
import sys
import tempfile
import textwrap
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))

# The stand-in for `trmdis bench ... --json`: one record per call, its call number in "ms", and exit 1 on the
# call numbered FAKE_FAIL_AT (the interruption).
FAKE_ENGINE = textwrap.dedent("""\
    #!{python}
    import json, os, sys
    calls = os.environ["FAKE_CALLS"]
    n = (int(open(calls).read()) if os.path.exists(calls) else 0) + 1
    open(calls, "w").write(str(n))
    if str(n) == os.environ.get("FAKE_FAIL_AT"):
        sys.exit(1)
    mode = sys.argv[sys.argv.index("--mode") + 1]
    rec = dict(config="tiny", mode=mode, ms=float(n), gflops=1.0, sgemm_peak_gflops=2.0, sgemm_best_gflops=2.5,
               peak_rss_mib=10.0, estimate_mib=9.0, examples_steps_per_s=1.0, method="dis", infer_b1_ms=float(n),
               infer_b64_ms=float(n), blas_version="stand-in", blas_core="none", cpu_isa="none")
    print(json.dumps(rec))
""")


class ResumeTests(unittest.TestCase):
    def run_compare(self, tmp, fail_at=None):
        env = dict(os.environ, FAKE_CALLS=os.path.join(tmp, "calls"))
        env.pop("FAKE_FAIL_AT", None)
        if fail_at is not None:
            env["FAKE_FAIL_AT"] = str(fail_at)
        return subprocess.run([sys.executable, os.path.join(HERE, "compare.py"), "--engine", self.engine,
                               "--configs", "tiny", "--rounds", "3", "--state", self.state,
                               "--json-out", os.path.join(tmp, "out.json")],
                              env=env, capture_output=True, text=True)

    def calls(self, tmp):
        with open(os.path.join(tmp, "calls")) as f:
            return int(f.read())

    def test_a_stopped_run_continues_with_the_rounds_it_had(self):
        with tempfile.TemporaryDirectory() as tmp:
            self.engine, self.state = os.path.join(tmp, "engine"), os.path.join(tmp, "state.jsonl")
            with open(self.engine, "w") as f:
                f.write(FAKE_ENGINE.format(python=sys.executable))
            os.chmod(self.engine, 0o755)
            # tiny: 3 training rounds, then 3 inference rounds, one engine call each; the 5th call fails.
            first = self.run_compare(tmp, fail_at=5)
            self.assertNotEqual(first.returncode, 0)
            with open(self.state) as f:
                lines = [json.loads(line) for line in f]
            self.assertEqual([(r["mode"], r["round"]) for r in lines[1:]], [("train", 0), ("train", 1),
                                                                             ("train", 2), ("infer", 0)])
            with open(self.state, "a") as f:
                f.write('{"name": "tiny", "mode": "inf')  # a line cut short by the interruption
            self.run_compare(tmp, fail_at=7)  # stopped again, after one more round
            with open(self.state) as f:
                self.assertEqual(len([json.loads(line) for line in f]), 6)  # header and five whole rounds
            second = self.run_compare(tmp)
            self.assertEqual(second.returncode, 0, second.stderr)
            self.assertEqual(self.calls(tmp), 8)  # one call per round, and one for each of the two that failed
            # The share of the peak: FLOP/s 1 over the median sample 2 (targeted), and over the best sample 2.5.
            self.assertRegex(second.stdout, r"share of the sgemm peak \(per process\) +0\.50 +- +0\.50x\s")
            self.assertRegex(second.stdout, r"of the best sample \(2\.5\) +0\.40 +- +0\.40x\s")
            self.assertIn("5 round(s) read from", second.stderr)
            self.assertIn("infer round 1: measured earlier", second.stderr)
            self.assertFalse(os.path.exists(self.state))  # removed once the table is printed
            with open(os.path.join(tmp, "out.json")) as f:
                out = json.load(f)["results"]["tiny"]
            self.assertEqual([r["ms"] for r in out["train"]["engine"]], [1.0, 2.0, 3.0])
            self.assertEqual([r["infer_b1_ms"] for r in out["infer"]["engine"]], [4.0, 6.0, 8.0])
            # A new binary (another modification time) starts afresh rather than mixing two binaries' rounds.
            self.run_compare(tmp, fail_at=10)
            os.utime(self.engine, (0, 0))
            third = self.run_compare(tmp)
            self.assertEqual(third.returncode, 0, third.stderr)
            self.assertNotIn("read from", third.stderr)
            self.assertEqual(self.calls(tmp), 10 + 6)


if __name__ == "__main__":
    unittest.main(verbosity=2)
