// A small hand-written go.mod in the shape of k8s.io/kubernetes's, for the
// wrapper-module tests (not a copy of the real file).

module k8s.io/kubernetes

go 1.24.0

godebug default=go1.24

require (
	github.com/example/alpha v1.2.3
	k8s.io/api v0.0.0
	k8s.io/apimachinery v0.0.0
	k8s.io/client-go v0.0.0 // indirect
)

require github.com/example/beta v0.4.0 // indirect

replace (
	k8s.io/api => ./staging/src/k8s.io/api
	k8s.io/apimachinery => ./staging/src/k8s.io/apimachinery
	k8s.io/client-go => ./staging/src/k8s.io/client-go
	k8s.io/externaljwt => ./staging/src/k8s.io/externaljwt // added in a later release
)

replace github.com/example/forked => github.com/example/fork v0.9.1

replace github.com/example/local => ../local

exclude github.com/example/bad v1.0.0
