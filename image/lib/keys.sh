# The bundle signing keys (sourced by assemble.sh). By default a development CA made once per
# machine in $SALLE_IMAGE_CACHE/dev-keys (kept, so that an image built today accepts the
# bundles built tomorrow). For production, set:
#   SALLE_RAUC_KEYRING  the CA certificate(s) devices trust (goes into the image)
#   SALLE_RAUC_CERT     the signing certificate (issued by that CA)
#   SALLE_RAUC_KEY      its key: a file, or a PKCS#11 URI ("pkcs11:token=...;object=...") with
#                       RAUC_PKCS11_MODULE (and RAUC_PKCS11_PIN) set for a hardware token
# A bundle signed by any other key is refused by the devices.

dev_keys() {
    local dir=$cache/dev-keys
    if [[ ! -s $dir/signing.cert.pem ]]; then
        log "making the development CA and signing key in $dir (NOT for production)"
        rm -rf "$dir.tmp" && mkdir -p "$dir.tmp" && chmod 0700 "$dir.tmp"
        openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 3650 \
            -subj "/O=Salle development/CN=Salle development CA" \
            -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
            -keyout "$dir.tmp/ca.key.pem" -out "$dir.tmp/ca.cert.pem" 2>/dev/null
        openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
            -subj "/O=Salle development/CN=Salle development bundle signing" \
            -keyout "$dir.tmp/signing.key.pem" -out "$dir.tmp/signing.csr" 2>/dev/null
        printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n' >"$dir.tmp/ext"
        openssl x509 -req -in "$dir.tmp/signing.csr" -CA "$dir.tmp/ca.cert.pem" \
            -CAkey "$dir.tmp/ca.key.pem" -CAcreateserial -days 3650 -extfile "$dir.tmp/ext" \
            -out "$dir.tmp/signing.cert.pem" 2>/dev/null
        rm -rf "$dir" && mv "$dir.tmp" "$dir"
    fi
    echo "$dir"
}

signing_keys() {
    if [[ -n ${SALLE_RAUC_KEY:-} ]]; then
        [[ -n ${SALLE_RAUC_CERT:-} && -n ${SALLE_RAUC_KEYRING:-} ]] ||
            die "SALLE_RAUC_KEY needs SALLE_RAUC_CERT and SALLE_RAUC_KEYRING too"
        rauc_key=$SALLE_RAUC_KEY rauc_cert=$SALLE_RAUC_CERT rauc_keyring=$SALLE_RAUC_KEYRING
    else
        local dir
        dir=$(dev_keys)
        rauc_key=$dir/signing.key.pem rauc_cert=$dir/signing.cert.pem rauc_keyring=$dir/ca.cert.pem
    fi
}

