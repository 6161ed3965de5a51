package query

// The data health routes of the table in routes.go (query/health.go).

var (
	healthCheck = jsObject("one check",
		field{"name", jsString("what is checked")},
		field{"state", &Schema{Type: "string", Enum: []string{stateGreen, stateYellow, stateRed}}},
		field{"value", jsString("the number behind the state")},
		field{"message", jsString("what is wrong and what to do")})

	healthDataEndpoint = Endpoint{Path: "/v2/health/data", Access: AccessPrivate, Tag: tagStats,
		Summary: "data health: red/yellow/green checks of the store's catalog, orders, tracking, model and syncs, each with its number and what to do",
		Ops: getPost("health-data", "", NoWrite, jsObject("", fStatus,
			field{"checks", jsArray(healthCheck, "every check, in a fixed order")})),
		bind: handler((*Server).handleDataHealth)}

	dashboardEndpoint = Endpoint{Path: "/dashboard/{store}", Access: AccessPrivate, Tag: tagStats,
		Summary: "the data health page (HTML): the checks, orders and tracking per day, the last syncs; the private key as private_key= or Authorization: Bearer",
		Ops: []Op{{Method: "GET", ID: "dashboard", Params: []Param{pathParam("store", "the store's id (st_...)")},
			Result: textResult, ResultType: "text/html"}},
		bind: handler((*Server).handleDashboard)}
)
