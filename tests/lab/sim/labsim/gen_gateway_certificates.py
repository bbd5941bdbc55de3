"""gen-gateway-certificates.sh of the Session Manager broker (seed 004,
reference/dcv.md §5.1): makes the Connection Gateway's key and self-signed
certificate for TLS client authentication and a trust store holding that
certificate, then prints the folder and the trust store password.

The docs name the folder /etc/dcv-session-manager-broker/resolver-creds
(a partner installer says gateway-creds) and the exact output is UNCONFIRMED
(dcv.md §5.1, §8): the lab uses the documented folder and prints both facts
on lines of their own, so callers should parse the printed folder.
"""

import os
import secrets
import subprocess
import sys

OUT = "/etc/dcv-session-manager-broker/resolver-creds"


def openssl(*args):
    subprocess.run(["openssl"] + list(args), check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def generate(out):
    """Make the credentials in `out`; returns the trust store password."""
    os.makedirs(out, mode=0o700, exist_ok=True)
    key = os.path.join(out, "dcv_gateway_key.pem")
    cert = os.path.join(out, "dcv_gateway_cert.pem")
    store = os.path.join(out, "dcv_gateway_truststore.p12")
    password = secrets.token_hex(12)
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "3650",
            "-subj", "/CN=dcv-connection-gateway", "-keyout", key, "-out", cert)
    openssl("pkcs12", "-export", "-nokeys", "-in", cert, "-out", store,
            "-passout", "pass:%s" % password)
    os.chmod(key, 0o600)
    with open(os.path.join(out, "pass"), "w") as f:
        f.write(password + "\n")
    os.chmod(os.path.join(out, "pass"), 0o600)
    return password


def main():
    if os.getuid() != 0:
        sys.stderr.write("This script must be run as root\n")
        return 1
    try:
        password = generate(OUT)
    except subprocess.CalledProcessError as e:
        sys.stderr.write("gen-gateway-certificates.sh: %s\n" % e)
        return 1
    print("Certificates generated in folder: %s" % OUT)
    print("TrustStore password: %s" % password)
    return 0
