#!/bin/sh
# The entrypoint of a pykernel image that Enterprise Gateway or gateway_provisioners start as a pod
# or container. The engines describe the kernel in the environment; this turns it into the kernel's
# remote-launch options (see pykernel/remote.py) and execs the kernel, so that the init in front of
# it (tini, PID 1) forwards the engine's signals straight to the kernel.
#
#   KERNEL_ID                          the kernel's id (required)
#   RESPONSE_ADDRESS | EG_RESPONSE_ADDRESS   where to send the connection info, IP:PORT (required)
#   PUBLIC_KEY | EG_PUBLIC_KEY         the engine's RSA public key (required)
#   PORT_RANGE | EG_PORT_RANGE         LOW..HIGH for the kernel's ports (default: any)
#   KERNEL_LANGUAGE                    python (default) or bash; KERNEL_MODULE names any other
#   KERNEL_SPARK_CONTEXT_INIT_MODE     ignored (no Spark here), logged by the kernel if not "none"
# Extra arguments are passed on to the kernel.
set -eu

fail() { echo "pykernel-entrypoint: $*" >&2; exit 2; }

RESPONSE_ADDRESS=${RESPONSE_ADDRESS:-${EG_RESPONSE_ADDRESS:-}}
PUBLIC_KEY=${PUBLIC_KEY:-${EG_PUBLIC_KEY:-}}
PORT_RANGE=${PORT_RANGE:-${EG_PORT_RANGE:-0..0}}
[ -n "${KERNEL_ID:-}" ] || fail "KERNEL_ID is not set (the engine sets it)"
[ -n "$RESPONSE_ADDRESS" ] || fail "RESPONSE_ADDRESS (or EG_RESPONSE_ADDRESS) is not set"
[ -n "$PUBLIC_KEY" ] || fail "PUBLIC_KEY (or EG_PUBLIC_KEY) is not set"

if [ -z "${KERNEL_MODULE:-}" ]; then
    case "${KERNEL_LANGUAGE:-python}" in
        python|Python) KERNEL_MODULE=pykernel ;;
        bash|Bash) KERNEL_MODULE=pykernel_bash ;;
        *) fail "no pykernel language for KERNEL_LANGUAGE=${KERNEL_LANGUAGE}; set KERNEL_MODULE" ;;
    esac
fi

spark=""
case "${KERNEL_SPARK_CONTEXT_INIT_MODE:-none}" in
    none) ;;
    *) spark="--spark-context-initialization-mode=${KERNEL_SPARK_CONTEXT_INIT_MODE}" ;;
esac

# the kernel has no parent to watch in a container: the engine manages its life
exec "${PYTHON:-python3}" -m "$KERNEL_MODULE" --kernel-id "$KERNEL_ID" \
    --response-address "$RESPONSE_ADDRESS" --public-key "$PUBLIC_KEY" --port-range "$PORT_RANGE" \
    --no-parent-watch ${spark:+"$spark"} "$@"
