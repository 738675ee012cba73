"""The options of an SFTP connection, shared by the SFTP source and destination.

Kept apart from the connection code so that loading a profile does not import
paramiko.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from filebridge.options import Duration, Model, ProfilePath, Secret


class Retry(Model):
    """How a failed remote operation is retried before the file is left for later."""

    attempts: int = Field(4, ge=1, le=20, description="tries per operation (connect, "
                          "list, download, upload, rename); then the file stays where it "
                          "is and the watcher tries again later, with a growing wait")
    wait: Duration = Field(1.0, description="wait after the first failed try; doubles "
                           "after each")
    max_wait: Duration = Field(30.0, description="longest wait between tries")


class SftpServer(Model):
    """How to reach and log in to an SFTP server. Secrets are references only."""

    host: str = Field(min_length=1, description="server name or address")
    port: int = Field(22, ge=1, le=65535, description="SSH port")
    user: str = Field(min_length=1, description="login name")
    key: Secret | None = Field(None, description="private key (OpenSSH or PEM; ed25519, "
                               "ecdsa or rsa) by reference: file:keys/id_ed25519, or "
                               "${VAR} holding the key text")
    passphrase: Secret | None = Field(None, description="the key's passphrase, by reference")
    password: Secret | None = Field(None, description="password by reference (${VAR} or "
                                    "file:PATH); tried after the key")
    known_hosts: ProfilePath = Field(
        "known_hosts", validate_default=True,  # so the default resolves beside the profile
        description="pinned host keys (OpenSSH format; off port 22 the host is written "
                    "[host]:port). Unknown or changed keys are refused; 'filebridge trust "
                    "PROFILE' shows the server's key and pins it")
    legacy_algorithms: bool = Field(False, description="also allow weak algorithms old "
                                    "servers need (CBC ciphers, SHA-1/MD5 MACs, and SHA-1 key "
                                    "exchange where the installed paramiko still has it)")
    connect_timeout: Duration = Field(20.0, description="longest wait to connect and log in")
    timeout: Duration = Field(60.0, description="longest wait for any one reply once "
                              "connected")
    retry: Retry = Field(default_factory=Retry, description="retries of a failed operation")

    @model_validator(mode="after")
    def _credentials(self) -> SftpServer:
        if self.key is None and self.password is None:
            raise ValueError("give key (file:PATH or ${VAR}) or password (${VAR} or "
                             "file:PATH) to log in")
        if self.passphrase is not None and self.key is None:
            raise ValueError("passphrase is for key; no key given")
        return self


class SftpKind(Model):
    """The tag of every SFTP options model: the last base, so that it comes first."""

    kind: Literal["sftp"] = Field(description="an SFTP server")
