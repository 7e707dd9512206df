// gitops-judges reads Kubernetes objects and prints, for each, what Argo CD's and kstatus's own
// code conclude about it:
//
//   - Argo CD: the health of the object as the application controller computes it
//     (gitops-engine's health.GetResourceHealth with Argo CD's Lua health overrides), the overrides
//     read from an argocd-cm ConfigMap by Argo CD's own settings manager, exactly as
//     `argocd admin settings resource-overrides health --argocd-cm-path` does;
//   - kstatus: sigs.k8s.io/cli-utils' status.Compute, what Flux, kpt and `kubectl wait`-style
//     tools built on kstatus read.
//
// Usage: gitops-judges --argocd-cm argocd/argocd-cm.yaml < objects
//
// Input: one JSON array of objects, or a YAML/JSON stream of documents (--- separated).
// Output: one JSON array, one entry per object in input order:
//
//	{"argocd": {"status": "...", "message": "..."} | {"error": "..."},
//	 "kstatus": {"status": "...", "message": "..."} | {"error": "..."}}
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/argoproj/argo-cd/gitops-engine/v3/pkg/health"
	"github.com/argoproj/argo-cd/v3/util/lua"
	"github.com/argoproj/argo-cd/v3/util/settings"
	log "github.com/sirupsen/logrus"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/kubernetes/fake"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
	"sigs.k8s.io/yaml"
)

type verdict struct {
	Status  string `json:"status,omitempty"`
	Message string `json:"message"`
	Error   string `json:"error,omitempty"`
}

type judgement struct {
	ArgoCD  verdict `json:"argocd"`
	KStatus verdict `json:"kstatus"`
}

func main() {
	cmPath := flag.String("argocd-cm", "", "path to the argocd-cm ConfigMap YAML whose health customizations Argo CD uses")
	flag.Parse()
	if *cmPath == "" || flag.NArg() != 0 {
		fmt.Fprintln(os.Stderr, "usage: gitops-judges --argocd-cm PATH < objects (YAML stream or JSON array)")
		os.Exit(2)
	}
	// Argo CD's settings manager logs at info level on every read; the verdicts go to stdout.
	log.SetLevel(log.FatalLevel)

	overrides, err := resourceOverrides(*cmPath)
	if err != nil {
		fmt.Fprintf(os.Stderr, "gitops-judges: %s: %v\n", *cmPath, err)
		os.Exit(1)
	}
	objects, err := readObjects(os.Stdin)
	if err != nil {
		fmt.Fprintf(os.Stderr, "gitops-judges: reading objects: %v\n", err)
		os.Exit(1)
	}
	out := make([]judgement, 0, len(objects))
	for _, object := range objects {
		out = append(out, judgement{ArgoCD: argoCDHealth(object, overrides), KStatus: kstatus(object)})
	}
	encoder := json.NewEncoder(os.Stdout)
	encoder.SetEscapeHTML(false)
	if err := encoder.Encode(out); err != nil {
		fmt.Fprintf(os.Stderr, "gitops-judges: %v\n", err)
		os.Exit(1)
	}
}

// resourceOverrides reads argocd-cm the way `argocd admin settings ... --argocd-cm-path` does: the
// ConfigMap (and a throwaway argocd-secret) in a fake clientset behind Argo CD's settings manager.
func resourceOverrides(path string) (lua.ResourceHealthOverrides, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var cm corev1.ConfigMap
	if err := yaml.UnmarshalStrict(data, &cm); err != nil {
		return nil, err
	}
	if cm.Name != "argocd-cm" {
		return nil, fmt.Errorf("metadata.name is %q, not argocd-cm", cm.Name)
	}
	const namespace = "argocd"
	cm.Namespace = namespace
	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "argocd-secret", Namespace: namespace},
		Data:       map[string][]byte{"admin.password": []byte("test"), "server.secretkey": []byte("test")},
	}
	for _, meta := range []metav1.Object{&cm, secret} {
		labels := meta.GetLabels()
		if labels == nil {
			labels = map[string]string{}
		}
		labels["app.kubernetes.io/part-of"] = "argocd"
		meta.SetLabels(labels)
	}
	manager := settings.NewSettingsManager(context.Background(), fake.NewClientset(secret, &cm), namespace)
	if err := manager.ResyncInformers(); err != nil {
		return nil, err
	}
	overrides, err := manager.GetResourceOverrides()
	if err != nil {
		return nil, err
	}
	return lua.ResourceHealthOverrides(overrides), nil
}

func argoCDHealth(object *unstructured.Unstructured, overrides lua.ResourceHealthOverrides) verdict {
	result, err := health.GetResourceHealth(object, overrides)
	switch {
	case err != nil:
		return verdict{Error: err.Error()}
	case result == nil:
		// Argo CD has no health check for the kind: the controller calls such a resource Healthy.
		return verdict{Error: "no health check configured for " + object.GroupVersionKind().GroupKind().String()}
	default:
		return verdict{Status: string(result.Status), Message: result.Message}
	}
}

func kstatus(object *unstructured.Unstructured) verdict {
	result, err := status.Compute(object)
	if err != nil {
		return verdict{Error: err.Error()}
	}
	return verdict{Status: result.Status.String(), Message: result.Message}
}

// readObjects accepts a JSON array of objects or a YAML/JSON document stream. Each object is decoded
// the way client-go decodes one from the API server (integers stay int64: Argo CD and kstatus both
// read metadata.generation and status.observedGeneration as int64).
func readObjects(r io.Reader) ([]*unstructured.Unstructured, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	var raws []json.RawMessage
	if trimmed := bytes.TrimSpace(data); len(trimmed) > 0 && trimmed[0] == '[' {
		if err := json.Unmarshal(trimmed, &raws); err != nil {
			return nil, err
		}
	} else {
		decoder := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
		for {
			var raw json.RawMessage
			if err := decoder.Decode(&raw); errors.Is(err, io.EOF) {
				break
			} else if err != nil {
				return nil, fmt.Errorf("document %d: %w", len(raws), err)
			}
			if len(raw) > 0 && string(raw) != "null" {
				raws = append(raws, raw)
			}
		}
	}
	objects := make([]*unstructured.Unstructured, 0, len(raws))
	for i, raw := range raws {
		object := &unstructured.Unstructured{}
		if err := object.UnmarshalJSON(raw); err != nil {
			return nil, fmt.Errorf("object %d: %w", i, err)
		}
		objects = append(objects, object)
	}
	return objects, nil
}
