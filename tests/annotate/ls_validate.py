"""Run with Label Studio's own Python (its virtualenv): checks a labelling config and every
annotation of an export against it with the Label Studio SDK's LabelInterface, and prints
the problems as JSON (an empty list when there are none). Not collected by pytest."""

import json
import sys

from label_studio_sdk.label_interface import LabelInterface

config_path, export_path = sys.argv[1], sys.argv[2]
config = open(config_path, encoding="utf-8").read()
li = LabelInterface(config)
problems = []
try:
    li.validate()
except Exception as e:  # noqa: BLE001 - every failure is reported
    problems.append(f"config: {e}")
for task in json.load(open(export_path, encoding="utf-8")):
    for ann in task.get("annotations", []):
        if ann.get("was_cancelled"):
            continue
        errors = li.validate_prediction({"result": ann["result"]}, return_errors=True)
        if errors is not True and errors:
            problems.append(f"task {task['id']} annotation {ann['id']}: {errors}")
print(json.dumps(problems))
