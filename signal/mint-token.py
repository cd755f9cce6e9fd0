# Mints a meet-lan token the way your application would (HS256, Python standard library only):
# JWT_APP_ID=my-intranet JWT_APP_SECRET=... python3 mint-token.py planning "Alice Example" true
import base64, hashlib, hmac, json, os, sys, time
b64 = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=").decode()
claims = {"iss": os.environ["JWT_APP_ID"], "aud": "jitsi", "room": sys.argv[1], "exp": int(time.time()) + 3600,
          "context": {"user": {"id": sys.argv[2], "name": sys.argv[2], "moderator": sys.argv[3] == "true"}}}
signed = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode()) + "." + b64(json.dumps(claims).encode())
print(signed + "." + b64(hmac.new(os.environ["JWT_APP_SECRET"].encode(), signed.encode(), hashlib.sha256).digest()))
