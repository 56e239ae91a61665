using Ferry.Sets;

namespace Ferry.Tests.Sets;

/// <summary>Images from Kubernetes manifests: every workload kind, List kinds, multi-document files, what is skipped and why.</summary>
public class KubernetesImagesTests
{
    /// <summary>One document of each workload kind, as kubectl and helm write them.</summary>
    public const string Workloads = """
        apiVersion: v1
        kind: Pod
        metadata:
          name: debug
        spec:
          containers:
            - name: shell
              image: busybox:1.36
          ephemeralContainers:
            - name: debugger
              image: docker.io/library/alpine:3.20
        ---
        apiVersion: apps/v1
        kind: Deployment
        metadata:
          name: web
        spec:
          template:
            spec:
              initContainers:
                - name: migrate
                  image: registry.example.com/team/app-migrate:1.2.0
              containers:
                - name: web
                  image: nginx:1.27
                - name: sidecar
                  image: "ghcr.io/org/sidecar@sha256:0a6b4c3e8f5e2d1c7b9a8f6e5d4c3b2a1f0e9d8c7b6a5f4e3d2c1b0a9f8e7d6c"
        ---
        apiVersion: apps/v1
        kind: StatefulSet
        metadata: { name: db }
        spec:
          template:
            spec:
              containers: [{ name: pg, image: "postgres:16.1" }]
        ---
        apiVersion: apps/v1
        kind: DaemonSet
        metadata:
          name: agent
        spec:
          template:
            spec:
              containers:
                - name: agent
                  image: quay.io/prometheus/node-exporter:v1.8.1
        ---
        apiVersion: apps/v1
        kind: ReplicaSet
        metadata:
          name: rs
        spec:
          template:
            spec:
              containers:
                - name: c
                  image: registry.k8s.io/pause:3.9
        ---
        apiVersion: v1
        kind: ReplicationController
        metadata:
          name: rc
        spec:
          template:
            spec:
              containers:
                - name: c
                  image: redis:7.2.4-alpine
        ---
        apiVersion: batch/v1
        kind: Job
        metadata:
          name: once
        spec:
          template:
            spec:
              containers:
                - name: c
                  image: registry.example.com/team/job:2
              restartPolicy: Never
        ---
        # Source: chart/templates/cronjob.yaml
        apiVersion: batch/v1
        kind: CronJob
        metadata:
          name: nightly
        spec:
          schedule: "0 3 * * *"
          jobTemplate:
            spec:
              template:
                spec:
                  initContainers:
                    - name: wait
                      image: busybox:1.36
                  containers:
                    - name: backup
                      image: registry.example.com/team/backup:0.9.1
        ---
        apiVersion: v1
        kind: PodTemplate
        metadata:
          name: tmpl
        template:
          spec:
            containers:
              - name: c
                image: mcr.microsoft.com/dotnet/runtime:8.0
        ---
        apiVersion: argoproj.io/v1alpha1
        kind: Rollout
        metadata:
          name: canary
        spec:
          template:
            spec:
              containers:
                - name: app
                  image: registry.example.com/team/app:1.3.0
        ---
        apiVersion: rbac.authorization.k8s.io/v1
        kind: RoleBinding
        metadata:
          name: rb
        roleRef:
          apiGroup: rbac.authorization.k8s.io
          kind: Role
          name: image-puller
        subjects:
          - kind: ServiceAccount
            name: default
        ---
        apiVersion: v1
        kind: ConfigMap
        metadata:
          name: text
        data:
          pod.yaml: |
            containers:
              - name: not-real
                image: should-not-count:1
        ---
        apiVersion: apiextensions.k8s.io/v1
        kind: CustomResourceDefinition
        metadata:
          name: things.example.com
        spec:
          versions:
            - name: v1
              schema:
                openAPIV3Schema:
                  properties:
                    containers:
                      type: array
                      items: { properties: { image: { type: string } } }
        """;

    [Fact]
    public void FindsEveryContainerOfEveryWorkloadKind()
    {
        var scan = KubernetesImages.Scan(Workloads, "all.yaml");
        Assert.Empty(scan.Skipped);
        Assert.Equal(13, scan.Documents);
        Assert.Equal(
        [
            ("Pod", "debug", "containers", "shell", "docker.io/library/busybox:1.36"),
            ("Pod", "debug", "ephemeralContainers", "debugger", "docker.io/library/alpine:3.20"),
            ("Deployment", "web", "initContainers", "migrate", "registry.example.com/team/app-migrate:1.2.0"),
            ("Deployment", "web", "containers", "web", "docker.io/library/nginx:1.27"),
            ("Deployment", "web", "containers", "sidecar", "ghcr.io/org/sidecar@sha256:0a6b4c3e8f5e2d1c7b9a8f6e5d4c3b2a1f0e9d8c7b6a5f4e3d2c1b0a9f8e7d6c"),
            ("StatefulSet", "db", "containers", "pg", "docker.io/library/postgres:16.1"),
            ("DaemonSet", "agent", "containers", "agent", "quay.io/prometheus/node-exporter:v1.8.1"),
            ("ReplicaSet", "rs", "containers", "c", "registry.k8s.io/pause:3.9"),
            ("ReplicationController", "rc", "containers", "c", "docker.io/library/redis:7.2.4-alpine"),
            ("Job", "once", "containers", "c", "registry.example.com/team/job:2"),
            ("CronJob", "nightly", "initContainers", "wait", "docker.io/library/busybox:1.36"),
            ("CronJob", "nightly", "containers", "backup", "registry.example.com/team/backup:0.9.1"),
            ("PodTemplate", "tmpl", "containers", "c", "mcr.microsoft.com/dotnet/runtime:8.0"),
            ("Rollout", "canary", "containers", "app", "registry.example.com/team/app:1.3.0"),
        ], scan.Images.Select(i => (i.Kind, i.Object, i.Field, i.Container, i.Name.ToString())));
        Assert.Equal(13, scan.Distinct.Count);
        Assert.Equal(8, scan.Images[0].Line);
        Assert.Equal(98, scan.Images.Single(i => i.Container == "backup").Line);
    }

    [Fact]
    public void ListKindsAndJson()
    {
        const string list = """
            {"apiVersion": "v1", "kind": "List", "items": [
              {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "a"},
               "spec": {"template": {"spec": {"containers": [{"name": "a", "image": "alpine"}]}}}},
              {"apiVersion": "v1", "kind": "PodList", "items": [
                {"kind": "Pod", "metadata": {"name": "p"}, "spec": {"containers": [{"name": "b", "image": "quay.io/org/b:2"}]}}]}
            ]}
            """;
        var scan = KubernetesImages.Scan(list);
        Assert.Equal(["docker.io/library/alpine:latest", "quay.io/org/b:2"], scan.Images.Select(i => i.Name.ToString()));
        Assert.Equal(["Deployment", "Pod"], scan.Images.Select(i => i.Kind));
    }

    [Fact]
    public void SaysWhatItSkipped()
    {
        const string text = """
            apiVersion: v1
            kind: Pod
            metadata: { name: ok }
            spec:
              containers: [{ name: c, image: "alpine:3.20" }]
            ---
            apiVersion: v1
            kind: Pod
            metadata: { name: broken
            spec: {}
            --- # Source: chart/templates/templated.yaml
            kind: Deployment
            metadata:
              name: t
            spec:
              template:
                spec:
                  containers:
                    - name: c
                      image: "{{ .Values.image }}"
                    - name: e
                      image: ""
            ---
            just a string
            ---
            # only a comment
            ...
            """;
        var scan = KubernetesImages.Scan(text, "chart.yaml");
        Assert.Equal(["docker.io/library/alpine:3.20"], scan.Images.Select(i => i.Name.ToString()));
        // An unterminated flow mapping: the parser gives no position, so the document's first line (its ---).
        Assert.Equal([6, 20, 22, 24], scan.Skipped.Select(s => s.Line));
        Assert.All(scan.Skipped, s => Assert.Equal("chart.yaml", s.File));
        Assert.StartsWith("not parsed: not valid YAML", scan.Skipped[0].Reason, StringComparison.Ordinal);
        Assert.StartsWith("Deployment/t containers 'c': image '{{ .Values.image }}' is not a reference", scan.Skipped[1].Reason, StringComparison.Ordinal);
        Assert.Equal("Deployment/t containers 'e': empty image", scan.Skipped[2].Reason);
        Assert.Equal("not a Kubernetes object ('just a string')", scan.Skipped[3].Reason);
        Assert.Equal(4, scan.Documents);
    }

    [Fact]
    public void AnErrorAtTheEndNamesTheDocumentsLastLine()
    {
        var scan = KubernetesImages.Scan("kind: Pod\nspec:\n  containers: [{ name: a, image: alpine }]\n---\nkind: Pod\nmetadata: { name: x, labels: { a: b }\n", "k.yaml");
        Assert.Equal("docker.io/library/alpine:latest", Assert.Single(scan.Images).Name.ToString());
        Assert.Equal(6, Assert.Single(scan.Skipped).Line);
    }

    [Fact]
    public void ScansADirectoryInNameOrderAndWritesASet()
    {
        using var dir = new Ferry.Tests.TestSupport.TempDir();
        Directory.CreateDirectory(dir.Path("sub"));
        File.WriteAllText(dir.Path("b.yaml"), "kind: Pod\nspec:\n  containers:\n    - name: b\n      image: b.example/b:1\n");
        File.WriteAllText(dir.Path("sub/a.yml"), "kind: Pod\nspec:\n  containers:\n    - name: a\n      image: a.example/a:1\n");
        File.WriteAllText(dir.Path("notes.txt"), "image: c.example/c:1\n");
        var scan = KubernetesImages.ScanPath(dir.Root);
        Assert.Equal(["b.example/b:1", "a.example/a:1"], scan.Images.Select(i => i.Name.ToString()));
        var set = scan.ToSet();
        Assert.Equal("version: 1\nplatforms: all\nreferrers: true\nimages:\n  - a.example/a:1\n  - b.example/b:1\n", set.ToYaml());
        Assert.Equal(2, ImageSet.Parse(set.ToYaml()).Images.Count);
    }
}
