# How the bedrock-converse-colon vector was made: botocore 1.43.11's SigV4Auth (an
# independent implementation) signed this request at 2026-12-06T18:46:30Z; its X-Amz-Date,
# Authorization, canonical request and string to sign were copied into the files here.
# Re-running gives another date (and signature); the files keep the captured run.
import hashlib
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

body = b'{"messages":[{"role":"user","content":[{"text":"hi"}]}]}'
url = "https://bedrock-runtime.us-east-1.amazonaws.com/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse"
req = AWSRequest(method="POST", url=url, data=body,
                 headers={"Content-Type": "application/json", "Accept": "application/json"})
creds = Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "FwoGZXIvYXdzEXAMPLETOKEN")
auth = SigV4Auth(creds, "bedrock", "us-east-1")
auth.add_auth(req)
for k, v in req.headers.items():
    print(f"{k}:{v}")
del req.headers["Authorization"]
print(auth.canonical_request(req))
print(auth.string_to_sign(req, auth.canonical_request(req)))
print(hashlib.sha256(body).hexdigest())
