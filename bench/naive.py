"""The baseline: a delivery script as a 1C admin writes it, without the courier.

    python bench/naive.py INBOX DONE BASE_URL LOGIN PASSWORD LINE_ID

It scans the folder once, reads each sidecar, posts every listed file to every recipient
with `requests.post(files=...)`, and moves the sidecar and its files into DONE. A drop
that gets an error response stays in the folder for the next run. It has no rate limit,
retry, dedup, settle time or status file: that is what the courier adds, and the
benchmark shows what those cost.
"""

import glob
import json
import os
import shutil
import sys

import requests


def send_file(base_url, auth, line_id, user_id, path, comment):
    name = os.path.basename(path)
    meta = {"line_id": line_id, "user_id": user_id, "file_name": name,
            "notification_only": True}
    if comment:
        meta["comment"] = comment
    with open(path, "rb") as stream:
        return requests.post(
            base_url + "/v1/line/send/file/", auth=auth, timeout=120,
            files={"meta": (None, json.dumps(meta, ensure_ascii=False), "application/json"),
                   "file": (name, stream, "application/pdf")})


def deliver(sidecar_path, done, base_url, auth, line_id):
    """Send one drop; return True when every upload got 200 and the drop was moved."""
    folder = os.path.dirname(sidecar_path)
    with open(sidecar_path, encoding="utf-8-sig") as handle:
        document = json.load(handle)

    paths = [os.path.join(folder, name) for name in document.get("files", [])]
    for recipient in document["recipients"]:
        for path in paths:
            response = send_file(base_url, auth, line_id, recipient["user_id"], path,
                                 document.get("comment"))
            if response.status_code != 200:
                print(f"{os.path.basename(path)}: ответ {response.status_code} "
                      f"{response.text[:200]}", file=sys.stderr)
                return False

    for path in paths + [sidecar_path]:
        shutil.move(path, os.path.join(done, os.path.basename(path)))
    return True


def main():
    inbox, done, base_url, login, password, line_id = sys.argv[1:7]
    os.makedirs(done, exist_ok=True)
    sent = failed = 0
    for sidecar_path in sorted(glob.glob(os.path.join(inbox, "*.json"))):
        if deliver(sidecar_path, done, base_url, (login, password), line_id):
            sent += 1
        else:
            failed += 1
    print(f"Отправлено документов: {sent}, с ошибкой: {failed}.")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
