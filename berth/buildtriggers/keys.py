"""The deploy key of a trigger: an SSH key pair made at activation. The public half is shown
to the user (to give it read access to the git repository); the private half is stored
encrypted and only handed to the build that clones the repository."""

from __future__ import annotations

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519


def generate_ssh_keypair(comment: str = "berth-build-trigger") -> tuple[str, str]:
    """``(public key in OpenSSH's one-line form, private key in OpenSSH's PEM form)``."""
    key = ed25519.Ed25519PrivateKey.generate()
    public = key.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    )
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.OpenSSH,
        serialization.NoEncryption(),
    )
    return f"{public.decode()} {comment}", private.decode()
