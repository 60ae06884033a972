"""Test-signed ALB OIDC tokens (ES256, segments with the ALB's `=` padding) and a loopback public-key endpoint
serving the PEM by kid, as `https://public-keys.auth.elb.{region}.amazonaws.com/{kid}` does."""

from __future__ import annotations

import base64
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

ALB_ARN = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/oncall/50dc6c495c0c9188"
KID = "5a7c2f4e-0d2b-4c1e-9a3f-1b2c3d4e5f60"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode()  # keeps the `=` padding, as the ALB does


def alb_token(
    key: ec.EllipticCurvePrivateKey,
    claims: dict[str, Any],
    *,
    kid: str = KID,
    signer: str = ALB_ARN,
    exp: float | None = None,
) -> str:
    header = {"alg": "ES256", "kid": kid, "signer": signer, "iss": "https://idp.example", "client": "c1"}
    header["exp"] = int(exp if exp is not None else time.time() + 120)
    body = {"exp": header["exp"], "iss": "https://idp.example", **claims}
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(body).encode())}"
    r, s = decode_dss_signature(key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256())))
    return f"{signing_input}.{_b64(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"


def pem_of(key: ec.EllipticCurvePrivateKey) -> str:
    public = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    return public.decode()


class KeyServer:
    """Serves `/{kid}` -> PEM on 127.0.0.1; counts fetches (the verifier caches)."""

    def __init__(self, keys: dict[str, ec.EllipticCurvePrivateKey]) -> None:
        self.fetches = 0
        pems = {kid: pem_of(key) for kid, key in keys.items()}
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer.fetches += 1
                pem = pems.get(self.path.lstrip("/"))
                self.send_response(200 if pem else 404)
                self.end_headers()
                self.wfile.write((pem or "no such key").encode())

            def log_message(self, *_args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/{{kid}}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
