#!/bin/bash

# Versions of the configs this recipe vendors; abra reads these exports
# without running the script, and they win over the app's env file.
export THEMES_CONF_VERSION=v2

keycloak_admin() {
  /opt/keycloak/bin/kcadm.sh "$@"
}
