/** Container images the hosts run besides the app; pinned, overridable (e.g. ECR mirrors for `privateEgress: endpoints`). */
export const HOST_IMAGES = {
    nodeExporter: "quay.io/prometheus/node-exporter:v1.8.2",
    prometheus: "quay.io/prometheus/prometheus:v2.54.1",
    alertmanager: "quay.io/prometheus/alertmanager:v0.27.0",
    grafana: "docker.io/grafana/grafana-oss:11.2.0",
};
