#!/usr/bin/python3
# Lab simulator entry point; the code is in labsim/gen_gateway_certificates.py.
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.realpath(__file__)))
from labsim import gen_gateway_certificates  # noqa: E402

sys.exit(gen_gateway_certificates.main())
