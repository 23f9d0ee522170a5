module corostorm-go-peer

go 1.19
