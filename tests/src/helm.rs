//! What `helm template` prints for a small chart, the way the stack tests of the CLI and the
//! service post it: one file of two YAML documents, each after its `# Source:` comment.

/// A container of a rendered template: its name, and its `image:` value as the chart writes
/// it (quoted or not, or a placeholder left unrendered).
pub type Container<'a> = (&'a str, &'a str);

/// The output of the chart `shop`: the Deployment `shop` with `init` containers and
/// `containers`, then the CronJob `report` with `cron` containers. Each `image:` is on the
/// line after its container's `- name:`; the first init container's image is on line 12.
pub fn rendered_chart(init: &[Container], containers: &[Container], cron: &[Container]) -> String {
    let items = |indent: &str, list: &[Container]| -> String {
        list.iter()
            .map(|(name, image)| format!("{indent}- name: {name}\n{indent}  image: {image}\n"))
            .collect()
    };
    let (init, containers, cron) = (
        items("        ", init),
        items("        ", containers),
        items("            ", cron),
    );
    format!(
        r#"---
# Source: shop/templates/deployment.yaml
apiVersion: apps/v1
kind: Deployment
metadata:
  name: shop
spec:
  template:
    spec:
      initContainers:
{init}      containers:
{containers}---
# Source: shop/templates/cronjob.yaml
apiVersion: batch/v1
kind: CronJob
metadata:
  name: report
spec:
  schedule: "0 3 * * *"
  jobTemplate:
    spec:
      template:
        spec:
          containers:
{cron}          restartPolicy: OnFailure
"#
    )
}
