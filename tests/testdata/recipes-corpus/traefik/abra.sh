#!/usr/bin/env bash
# Versions of the configs: bump on every change so swarm makes new ones.
export TRAEFIK_YML_VERSION=v22
export FILE_PROVIDER_YML_VERSION=v6

custom_entrypoint() {
  echo "not read by abra's env loader"
}
