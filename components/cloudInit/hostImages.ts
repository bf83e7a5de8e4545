/**
 * Container images the hosts run besides the app; overridable (e.g. ECR mirrors for
 * `privateEgress: endpoints`). Each is pinned by its multi-platform index digest, the tag kept
 * beside it for readers and Renovate (renovate.json's host-image manager updates both): a
 * re-pushed tag can never change what a host runs, and a wrong digest fails the pull at boot.
 * Digests as published on 2026-12-03, each seen identical in several independent public pins.
 */
export const HOST_IMAGES = {
    nodeExporter: "docker.io/prom/node-exporter:v1.12.1@sha256:1b4e4438faca4dd7e001dd445d161a4a2091b0fededa84093b3a8dfeae1f1be0",
    prometheus: "quay.io/prometheus/prometheus:v3.15.0@sha256:efd719c99d83b060d9daefdcf00360461adf279f45ef5391f8d111892118753e",
    alertmanager: "quay.io/prometheus/alertmanager:v0.34.1@sha256:e9733bafb1bdef9b00e25a21f8f99dc26a22224bf16641ad754d1649f4c3357a",
    // Grafana publishes its OSS image as grafana/grafana (grafana/grafana-oss is the older name).
    grafana: "docker.io/grafana/grafana:13.2.3@sha256:b28bae15e219c998fb0e0424ed724930cc61b1f61fb404d47c862f9a23f9e572",
};
