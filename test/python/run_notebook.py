"""Executes a notebook with nbclient on the tfjs-estimator kernel; prints a JSON summary of its outputs."""
import json
import sys

import nbformat
from nbclient import NotebookClient

path, out = sys.argv[1], sys.argv[2]
nb = nbformat.read(path, as_version=4)
client = NotebookClient(nb, kernel_name="tfjs-estimator", timeout=900, resources={"metadata": {"path": sys.argv[3]}})
client.execute()
nbformat.write(nb, out)
mimes, errors, streams = {}, [], []
for cell in nb.cells:
    for o in cell.get("outputs", []):
        if o["output_type"] == "error":
            errors.append(o["ename"] + ": " + o["evalue"])
        if o["output_type"] == "stream":
            streams.append(o["text"])
        for m in o.get("data", {}):
            mimes[m] = mimes.get(m, 0) + 1
print("RESULT " + json.dumps({"mimes": mimes, "errors": errors, "stdout": "".join(streams)[-2000:]}))
