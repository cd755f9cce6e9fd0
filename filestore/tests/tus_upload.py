"""Drives filestore with tuspy (a tus client that is not ours) for tus_resume_after_sigkill.rs.

Uploads PATH in CHUNK-byte PATCHes (with sha1 Upload-Checksum unless CHECKSUM is 0), printing `offset N` after each.
When a request fails (the server was killed), prints `interrupted N`, waits for a line on
stdin (the server is back), resumes through a new uploader on the same URL (tuspy asks the
server for the offset with HEAD), prints `resumed N`, finishes and prints `done URL`.
"""
import os
import sys

from tusclient import client

url, token, path, chunk = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
checksum = sys.argv[5] == "1" if len(sys.argv) > 5 else True
size = os.path.getsize(path)
c = client.TusClient(url, headers={"Authorization": "Bearer " + token})
meta = {"filename": os.path.basename(path), "filetype": "application/octet-stream"}
up = c.uploader(path, chunk_size=chunk, metadata=meta, upload_checksum=checksum)
up.set_url(up.create_url())
up.offset = 0
print("url", up.url, flush=True)
interrupted = False
while up.offset < size:
    try:
        up.upload_chunk()
    except Exception as e:  # the server went away mid-request
        if interrupted:
            raise
        interrupted = True
        print("interrupted", up.offset, type(e).__name__, flush=True)
        sys.stdin.readline()
        up = c.uploader(path, url=up.url, chunk_size=chunk, metadata=meta, upload_checksum=checksum)
        print("resumed", up.offset, flush=True)
        continue
    print("offset", up.offset, flush=True)
print("done", up.url, flush=True)
