// Runs a Python file in Pyodide under Node, with core/, widgets/, jinja2 and markupsafe copied into its
// site-packages (as the site's bundle does) and a data folder mounted at /data.
// usage: node tests/browser/pyodide_run.mjs PYODIDE_DIR SITE_PACKAGES DATA_DIR SCRIPT.py
// Prints what the script's last expression evaluates to (a string).
import fs from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";

const [pyodideDir, sitePackages, dataDir, script] = process.argv.slice(2);
const { loadPyodide } = await import(pathToFileURL(path.join(pyodideDir, "pyodide.mjs")).href);
const py = await loadPyodide({ indexURL: pyodideDir + "/" });

function copyTree(src, dst) {
  py.FS.mkdirTree(dst);
  for (const name of fs.readdirSync(src)) {
    if (name === "__pycache__" || name.endsWith(".so")) continue;  // as the site bundle: pure Python only
    const from = path.join(src, name);
    if (fs.statSync(from).isDirectory()) copyTree(from, `${dst}/${name}`);
    else py.FS.writeFile(`${dst}/${name}`, fs.readFileSync(from));
  }
}

const target = py.runPython("import sysconfig; sysconfig.get_paths()['purelib']");
for (const own of ["core", "widgets"]) copyTree(path.resolve(own), `${target}/${own}`);
for (const dep of ["jinja2", "markupsafe"]) copyTree(path.join(sitePackages, dep), `${target}/${dep}`);
copyTree(dataDir, "/data");
console.log(py.runPython(fs.readFileSync(script, "utf8")));
