# tests/e2e/lib/pki.sh - the keys a mail test needs, made fresh in the
# current directory (sourced after tap.sh):
#   make_pki SAN   ca.pem/ca.key (a throwaway CA), srv.pem/srv.key (a server
#                  certificate for SAN, e.g. "DNS:localhost,IP:127.0.0.1"),
#                  dkim-rsa.pem and dkim-ed.pem (DKIM keys), and dns-keys:
#                  their TXT records as selectors rsa1 and ed1 of example.com,
#                  for dkim-verify.py.
make_pki() {
	openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 \
		-subj "/CN=akashi test CA" >/dev/null 2>&1
	openssl req -newkey rsa:2048 -nodes -keyout srv.key -out srv.csr -subj "/CN=localhost" \
		>/dev/null 2>&1
	printf 'subjectAltName=%s\n' "$1" >ext
	openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out srv.pem \
		-days 2 -extfile ext >/dev/null 2>&1
	openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out dkim-rsa.pem 2>/dev/null
	openssl genpkey -algorithm ED25519 -out dkim-ed.pem
	printf 'rsa1._domainkey.example.com. v=DKIM1; k=rsa; p=%s\n' \
		"$(openssl pkey -in dkim-rsa.pem -pubout -outform DER | base64 -w0)" >dns-keys
	printf 'ed1._domainkey.example.com. v=DKIM1; k=ed25519; p=%s\n' \
		"$(openssl pkey -in dkim-ed.pem -pubout -outform DER | tail -c 32 | base64 -w0)" >>dns-keys
}
