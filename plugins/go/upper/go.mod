module wasmq.invalid/plugins/go/upper

go 1.21
