// Runs pytest inside Pyodide under Node: the repository mounted read-only at /repo (NODEFS),
// pure-Python test dependencies unpacked from a zip, and a plugin that reports every outcome.
// usage: node tests/browser/pyodide_pytest.mjs PYODIDE_DIR REPO DEPS.zip TEST_FILE...
// Prints one JSON line: {"python": [3, 14], "exit": N, "outcomes": {"nodeid": "passed", ...}}.
import fs from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";

const [pyodideDir, repo, depsZip, ...files] = process.argv.slice(2);
const { loadPyodide } = await import(pathToFileURL(path.join(pyodideDir, "pyodide.mjs")).href);
const py = await loadPyodide({ indexURL: pyodideDir + "/", stdout: (s) => console.error(s), stderr: (s) => console.error(s) });
py.FS.mkdirTree("/repo");
py.FS.mount(py.FS.filesystems.NODEFS, { root: path.resolve(repo) }, "/repo");
py.unpackArchive(new Uint8Array(fs.readFileSync(depsZip)), "zip", { extractDir: "/deps" });
py.globals.set("test_files", py.toPy(files));
const out = await py.runPythonAsync(`
import json, os, sys
sys.dont_write_bytecode = True  # the repository is the host's: write nothing into it
sys.path[:0] = ["/deps", "/repo"]  # the test folders come from pyproject.toml (pythonpath)
os.makedirs("/work", exist_ok=True)
os.chdir("/work")  # hypothesis keeps its example database in the working directory
import pytest

class Outcomes:
    def __init__(self):
        self.seen = {}
    def pytest_runtest_logreport(self, report):
        if report.when == "call" or report.outcome != "passed":
            self.seen[report.nodeid] = report.outcome if report.when == "call" or report.outcome == "skipped" else "error"

outcomes = Outcomes()
code = pytest.main(["-q", "-p", "no:cacheprovider", "--rootdir", "/repo", "-c", "/repo/pyproject.toml",
                    *["/repo/" + f for f in test_files]], plugins=[outcomes])
json.dumps({"python": list(sys.version_info[:2]), "exit": int(code), "outcomes": outcomes.seen})
`);
console.log(out);
