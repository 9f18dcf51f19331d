"""An S3 object store of the test's own: SeaweedFS's ``weed server`` (master, volume server,
filer and S3 gateway in one process) on free ports, data in the test's folder, static
credentials made for this run, and the bucket created. The binary is the one
deploy/local/seaweedfs.sh builds for the local stack, so tests and ``make up`` run the same
version."""

from __future__ import annotations

import json
import secrets
import subprocess
from pathlib import Path

from aiobotocore.config import AioConfig
from aiobotocore.session import get_session
from botocore.exceptions import ClientError

from chat_common.object_store import SETTINGS_PREFIX, ObjectStoreSettings
from chat_testing.ports import free_port
from chat_testing.processes import ServiceProcess

REPO = Path(__file__).resolve().parents[4]
BUCKET = "chat-attachments"


def environment(settings: ObjectStoreSettings) -> dict[str, str]:
    """The ``CHAT_OBJECT_STORE_*`` variables that point a service process (a gateway, the media
    worker) at the store of ``settings``, as the deployment sets them."""
    variables = {}
    for name in settings.__struct_fields__:
        value = getattr(settings, name)
        text = str(value).lower() if isinstance(value, bool) else str(value)
        variables[f"{SETTINGS_PREFIX}{name.upper()}"] = text
    return variables


def weed_binary() -> str:
    """The pinned SeaweedFS binary, built by the local stack's script when missing."""
    script = REPO / "deploy" / "local" / "seaweedfs.sh"
    done = subprocess.run([str(script), "bin"], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{script} bin failed: {done.stderr.strip()}")
    return done.stdout.strip().splitlines()[-1]


class SeaweedStore:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.s3_port = free_port()
        self.settings = ObjectStoreSettings(
            endpoint_url=f"http://127.0.0.1:{self.s3_port}",
            bucket=BUCKET,
            access_key_id=secrets.token_hex(10),
            secret_access_key=secrets.token_hex(20),
        )
        identities = folder / "s3-identities.json"
        identities.write_text(
            json.dumps(
                {
                    "identities": [
                        {
                            "name": "chat",
                            "credentials": [
                                {
                                    "accessKey": self.settings.access_key_id,
                                    "secretKey": self.settings.secret_access_key,
                                }
                            ],
                            "actions": [
                                f"{action}:{BUCKET}"
                                for action in ("Admin", "Read", "Write", "List", "Tagging")
                            ],
                        }
                    ]
                }
            )
        )
        data = folder / "data"
        data.mkdir(exist_ok=True)
        # Every port named: the gRPC ports default to HTTP port + 10000, past 65535 for the
        # high free ports the kernel hands out.
        ports = {name: free_port() for name in ("master", "volume", "filer")}
        argv = [
            weed_binary(),
            *("server", f"-dir={data}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1"),
            *("-master.telemetry=false", "-master.volumeSizeLimitMB=64", "-volume.max=0"),
            # Nothing to drain in a test: stop at once rather than after 10 s.
            "-volume.preStopSeconds=0",
            "-filer",
            "-s3",
            f"-s3.config={identities}",
            *("-s3.port.iceberg=0", "-s3.port.lance=0"),
            f"-filer.localSocket={folder / 'filer.sock'}",
            f"-s3.localSocket={folder / 's3.sock'}",
            f"-s3.port={self.s3_port}",
            f"-s3.port.grpc={free_port()}",
        ]
        for name, port in ports.items():
            argv += [f"-{name}.port={port}", f"-{name}.port.grpc={free_port()}"]
        self.process = ServiceProcess(
            f"seaweedfs-{self.s3_port}", argv, {}, folder, ready=self._bucket_made
        )

    async def _bucket_made(self) -> bool:
        """Ready once an object can be written: the bucket is created (or was, on an earlier
        poll) and a probe object written and deleted. The gateway answers, and makes buckets,
        some seconds before the filer's write locks are up; a write then waits for them."""
        settings = self.settings
        async with get_session().create_client(
            "s3",
            endpoint_url=settings.endpoint_url,
            region_name=settings.region,
            aws_access_key_id=settings.access_key_id,
            aws_secret_access_key=settings.secret_access_key,
            config=AioConfig(read_timeout=2, retries={"max_attempts": 1}),
        ) as client:
            try:
                await client.create_bucket(Bucket=settings.bucket)
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") != "BucketAlreadyOwnedByYou":
                    raise
            await client.put_object(Bucket=settings.bucket, Key=".ready", Body=b"")
            await client.delete_object(Bucket=settings.bucket, Key=".ready")
        return True

    async def start(self) -> None:
        await self.process.start(limit_s=60.0)

    async def stop(self) -> None:
        # A test's store holds nothing worth a clean shutdown, and weed server takes SIGTERM
        # slowly (ServiceProcess.stop then waits 15 s before it kills): killed at once.
        await self.process.kill()
