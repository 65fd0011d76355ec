// Programs for the local real node's images (built static, packed into scratch images by
// build.sh with crane, imported into containerd: nothing is pulled from a registry).
module krkn-tui/localcluster/images

go 1.26.0
