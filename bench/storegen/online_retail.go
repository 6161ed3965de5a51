package storegen

import (
	_ "embed"
	"encoding/json"
	"fmt"
)

// onlineRetailJSON is Fit over UCI Online Retail (Chen, Sain and Guo
// 2012, CC BY 4.0; ../shared/data/online-retail), written by
// `go test ./bench/storegen -run TestOnlineRetailProfile -update`. Only
// these summary statistics are in the repository, not the data.
//
//go:embed online_retail_profile.json
var onlineRetailJSON []byte

// OnlineRetail returns the profile fitted to UCI Online Retail: product
// popularity exponent about 0.65 over the top 90% of lines, about 23
// lines per order and 4.3 orders per customer, and the share of repeat
// lines.
func OnlineRetail() Profile {
	var p Profile
	if err := json.Unmarshal(onlineRetailJSON, &p); err != nil {
		panic(fmt.Sprintf("storegen: embedded Online Retail profile is corrupt: %v", err))
	}
	return p
}
