package storegen

// The words of generated catalogs (GenerateCatalog): a category tree whose
// names are words shoppers search, product nouns per subcategory, and the
// modifiers product names are made of. Lists are ordered most common
// first: the generator draws from them with Zipf-like weights, so a few
// words ("black", "set", "steel") are in many names and most are rare, as
// in a real catalog's vocabulary.

// topCategory is a department with its subcategories, the materials its
// products are made of, the sizes and units its names carry, and its
// median price.
type topCategory struct {
	name      string
	subs      []subCategory
	materials []string
	units     []string
	price     float64 // median price
}

// subCategory holds the product nouns (the head of each name) it sells.
type subCategory struct {
	name  string
	nouns []string
}

// departments are ordered by size: the first is clearly the largest
// (categoryWeights).
var departments = []topCategory{
	{name: "Kitchen", price: 24, subs: []subCategory{
		{"Cookware", []string{"frying pan", "saucepan", "skillet", "wok", "stock pot", "casserole dish", "griddle pan", "roasting tin"}},
		{"Kitchen Utensils", []string{"spatula", "whisk", "ladle", "tongs", "peeler", "grater", "colander", "rolling pin", "utensil set"}},
		{"Tableware", []string{"dinner plate", "bowl", "mug", "coffee cup", "tumbler", "wine glass", "serving platter", "cutlery set"}},
		{"Food Storage", []string{"storage jar", "food container", "lunch box", "bread bin", "canister", "spice rack", "water bottle"}},
		{"Small Appliances", []string{"kettle", "toaster", "blender", "hand mixer", "coffee maker", "juicer", "food processor", "air fryer"}},
		{"Baking", []string{"cake tin", "baking tray", "muffin tray", "mixing bowl", "cooling rack", "piping bag", "loaf tin"}},
		{"Knives", []string{"chef knife", "bread knife", "knife block", "paring knife", "knife sharpener", "chopping board"}},
	}, materials: []string{"stainless steel", "ceramic", "glass", "bamboo", "cast iron", "silicone", "porcelain", "enamel", "copper", "aluminium"},
		units: []string{"500 ml", "1 l", "1.5 l", "20 cm", "24 cm", "28 cm", "set of 4", "set of 6", "350 ml", "2 l", "6 piece", "12 piece"}},
	{name: "Garden", price: 30, subs: []subCategory{
		{"Garden Tools", []string{"spade", "rake", "pruning shears", "trowel", "hedge trimmer", "leaf blower", "wheelbarrow"}},
		{"Planters", []string{"plant pot", "planter", "hanging basket", "window box", "raised bed", "plant stand"}},
		{"Watering", []string{"garden hose", "watering can", "sprinkler", "hose reel", "rain barrel"}},
		{"Outdoor Lighting", []string{"solar light", "lantern", "string lights", "path light", "wall light"}},
		{"Garden Furniture", []string{"garden chair", "bench", "parasol", "hammock", "sun lounger", "garden table"}},
	}, materials: []string{"plastic", "terracotta", "steel", "wood", "rattan", "aluminium", "resin", "galvanised steel"},
		units: []string{"3 tier", "10 l", "15 m", "30 m", "50 m", "40 cm", "60 cm", "2 pack", "12v"}},
	{name: "Lighting", price: 35, subs: []subCategory{
		{"Lamps", []string{"table lamp", "floor lamp", "desk lamp", "bedside lamp", "reading lamp"}},
		{"Ceiling Lights", []string{"pendant light", "ceiling light", "chandelier", "spotlight", "flush light"}},
		{"Light Bulbs", []string{"led bulb", "light bulb", "smart bulb", "filament bulb", "halogen bulb"}},
		{"Fairy Lights", []string{"fairy lights", "light chain", "light curtain", "night light"}},
	}, materials: []string{"metal", "glass", "fabric", "brass", "wood", "rattan", "concrete", "marble"},
		units: []string{"e27", "gu10", "5w", "9w", "12v", "240v", "2 pack", "4 pack", "10 m", "3000k"}},
	{name: "Tools", price: 45, subs: []subCategory{
		{"Power Tools", []string{"cordless drill", "impact driver", "jigsaw", "circular saw", "angle grinder", "sander", "heat gun"}},
		{"Hand Tools", []string{"hammer", "screwdriver set", "spanner set", "pliers", "tape measure", "spirit level", "utility knife"}},
		{"Tool Storage", []string{"tool box", "tool bag", "workbench", "tool chest", "parts organiser"}},
		{"Fixings", []string{"screws", "wall plugs", "nails", "bolts", "cable ties", "hooks"}},
	}, materials: []string{"steel", "chrome vanadium", "plastic", "carbon steel", "aluminium", "rubber"},
		units: []string{"12v", "18v", "20v", "500w", "750w", "10 mm", "6 mm", "5 m", "8 m", "100 pack", "42 piece"}},
	{name: "Furniture", price: 160, subs: []subCategory{
		{"Sofas", []string{"sofa", "corner sofa", "sofa bed", "armchair", "footstool"}},
		{"Tables", []string{"coffee table", "dining table", "side table", "console table", "nest of tables"}},
		{"Chairs", []string{"dining chair", "office chair", "bar stool", "rocking chair", "bean bag"}},
		{"Storage Furniture", []string{"bookcase", "chest of drawers", "wardrobe", "shoe rack", "shelving unit", "sideboard"}},
		{"Beds", []string{"bed frame", "bunk bed", "headboard", "mattress", "divan bed"}},
	}, materials: []string{"oak", "pine", "velvet", "leather", "walnut", "metal", "rattan", "linen", "fabric"},
		units: []string{"2 seater", "3 seater", "4 door", "3 drawer", "5 shelf", "double", "king size", "single", "120 cm"}},
	{name: "Bathroom", price: 20, subs: []subCategory{
		{"Towels", []string{"bath towel", "hand towel", "bath sheet", "bath mat", "towel bale"}},
		{"Bathroom Accessories", []string{"soap dispenser", "toothbrush holder", "toilet brush", "shower caddy", "bathroom bin"}},
		{"Showers", []string{"shower head", "shower curtain", "shower rail", "shower mixer"}},
		{"Bathroom Storage", []string{"bathroom cabinet", "towel rail", "laundry basket", "mirror cabinet"}},
	}, materials: []string{"cotton", "bamboo", "chrome", "ceramic", "stainless steel", "plastic", "egyptian cotton"},
		units: []string{"500 gsm", "600 gsm", "70 x 130 cm", "2 pack", "4 piece", "1.8 m", "180 cm"}},
	{name: "Toys", price: 18, subs: []subCategory{
		{"Building Toys", []string{"building blocks", "construction set", "marble run", "brick set"}},
		{"Dolls", []string{"doll", "dolls house", "rag doll", "doll pram"}},
		{"Games", []string{"board game", "jigsaw puzzle", "card game", "dice game"}},
		{"Soft Toys", []string{"teddy bear", "plush toy", "soft toy", "cuddly bunny"}},
		{"Outdoor Toys", []string{"scooter", "trampoline", "paddling pool", "swing set", "kite"}},
	}, materials: []string{"wooden", "plastic", "plush", "cotton", "felt", "recycled"},
		units: []string{"500 piece", "1000 piece", "100 piece", "3+ years", "8+ years", "30 cm", "2 player"}},
	{name: "Clothing", price: 28, subs: []subCategory{
		{"Tops", []string{"t-shirt", "shirt", "blouse", "hoodie", "jumper", "cardigan"}},
		{"Trousers", []string{"jeans", "chinos", "joggers", "leggings", "shorts"}},
		{"Outerwear", []string{"jacket", "raincoat", "parka", "gilet", "fleece"}},
		{"Accessories", []string{"scarf", "beanie", "gloves", "belt", "socks"}},
	}, materials: []string{"cotton", "organic cotton", "wool", "denim", "linen", "polyester", "merino wool", "cashmere"},
		units: []string{"size s", "size m", "size l", "size xl", "3 pack", "5 pack", "w32 l32"}},
	{name: "Shoes", price: 55, subs: []subCategory{
		{"Trainers", []string{"trainers", "running shoes", "canvas shoes", "high tops"}},
		{"Boots", []string{"chelsea boots", "walking boots", "wellies", "ankle boots", "snow boots"}},
		{"Sandals", []string{"sandals", "flip flops", "sliders", "espadrilles"}},
		{"Slippers", []string{"slippers", "mule slippers", "boot slippers"}},
	}, materials: []string{"leather", "suede", "canvas", "rubber", "mesh", "faux fur"},
		units: []string{"size 6", "size 7", "size 8", "size 9", "size 10", "uk 5", "eu 42"}},
	{name: "Electronics", price: 70, subs: []subCategory{
		{"Audio", []string{"headphones", "earbuds", "bluetooth speaker", "soundbar", "radio"}},
		{"Phone Accessories", []string{"phone case", "charger", "charging cable", "power bank", "screen protector"}},
		{"Computer Accessories", []string{"keyboard", "mouse", "usb hub", "webcam", "monitor stand", "laptop bag"}},
		{"Smart Home", []string{"smart plug", "doorbell camera", "smart speaker", "thermostat"}},
	}, materials: []string{"plastic", "aluminium", "silicone", "leather", "braided nylon"},
		units: []string{"usb-c", "10000 mah", "20000 mah", "65w", "2 m", "1 m", "4k", "1080p", "5 ghz"}},
	{name: "Bags", price: 40, subs: []subCategory{
		{"Backpacks", []string{"backpack", "rucksack", "school bag", "daypack"}},
		{"Handbags", []string{"handbag", "tote bag", "shoulder bag", "clutch bag", "crossbody bag"}},
		{"Luggage", []string{"suitcase", "holdall", "weekend bag", "cabin case", "luggage tag"}},
	}, materials: []string{"leather", "canvas", "nylon", "jute", "faux leather", "recycled polyester"},
		units: []string{"20 l", "30 l", "40 l", "55 cm", "75 cm", "4 wheel"}},
	{name: "Beauty", price: 14, subs: []subCategory{
		{"Skincare", []string{"face cream", "serum", "cleanser", "face mask", "moisturiser", "toner"}},
		{"Hair Care", []string{"shampoo", "conditioner", "hair dryer", "hair straightener", "hair brush"}},
		{"Fragrance", []string{"perfume", "eau de toilette", "body mist", "scented candle"}},
	}, materials: []string{"vegan", "organic", "natural", "fragrance free", "paraben free"},
		units: []string{"50 ml", "100 ml", "250 ml", "500 ml", "30 ml", "2000w"}},
	{name: "Sports", price: 35, subs: []subCategory{
		{"Fitness", []string{"yoga mat", "dumbbell", "kettlebell", "resistance band", "skipping rope", "exercise bike"}},
		{"Cycling", []string{"bike light", "bike lock", "cycling helmet", "bike pump", "mudguard"}},
		{"Camping", []string{"tent", "sleeping bag", "camping chair", "head torch", "cool box"}},
	}, materials: []string{"neoprene", "rubber", "steel", "nylon", "foam", "aluminium"},
		units: []string{"5 kg", "10 kg", "2 kg", "6 mm", "2 person", "4 person", "20 l"}},
	{name: "Pets", price: 16, subs: []subCategory{
		{"Dog", []string{"dog bed", "dog lead", "dog collar", "dog bowl", "dog toy", "dog harness"}},
		{"Cat", []string{"cat tree", "scratching post", "cat bed", "litter tray", "cat toy"}},
		{"Small Pets", []string{"hutch", "hamster cage", "bird feeder", "fish tank"}},
	}, materials: []string{"plush", "nylon", "rubber", "stainless steel", "sisal", "wood"},
		units: []string{"small", "medium", "large", "xl", "60 cm", "2 pack"}},
	{name: "Office", price: 12, subs: []subCategory{
		{"Stationery", []string{"notebook", "pen set", "pencil case", "sticky notes", "diary", "planner"}},
		{"Desk Accessories", []string{"desk organiser", "letter tray", "desk mat", "stapler", "desk tidy"}},
		{"Filing", []string{"ring binder", "document wallet", "box file", "filing cabinet"}},
	}, materials: []string{"paper", "recycled", "leather", "cork", "metal", "plastic"},
		units: []string{"a4", "a5", "10 pack", "3 pack", "80 gsm", "200 sheets"}},
}

// colours are facet values and name words (roughly by how often shops
// list them).
var colours = []string{
	"black", "white", "grey", "blue", "navy", "red", "green", "pink", "beige", "brown",
	"silver", "gold", "yellow", "cream", "charcoal", "purple", "orange", "teal", "sage", "mustard",
	"terracotta", "burgundy", "ivory", "olive", "lilac", "rose gold",
}

// adjectives describe the product and carry most of the name's variety.
var adjectives = []string{
	"classic", "large", "small", "mini", "modern", "vintage", "premium", "round", "square", "folding",
	"portable", "deluxe", "heavy duty", "compact", "slim", "rustic", "retro", "non-stick", "waterproof", "adjustable",
	"stackable", "rechargeable", "wireless", "extra large", "scandi", "industrial", "handmade", "luxury", "soft", "padded",
	"double", "everyday", "essential", "professional", "kids", "family", "travel", "eco", "lightweight", "reversible",
	"striped", "floral", "geometric", "textured", "matte", "glossy", "cordless", "insulated", "ribbed", "quilted",
}

// benefits finish descriptions; none names a product, so a word found
// only in descriptions is rarer than in names (as in a real catalog).
var benefits = []string{
	"Easy to clean and built to last.",
	"Ideal for everyday use.",
	"Makes a thoughtful gift.",
	"Designed in Scandinavia and tested for years of use.",
	"Comes with a two year guarantee.",
	"Lightweight and easy to carry.",
	"Finished by hand, so each piece is slightly different.",
	"Made from responsibly sourced materials.",
	"Fits neatly into smaller spaces.",
	"Part of our bestselling range.",
	"Suitable for indoor and outdoor use.",
	"Delivered fully assembled.",
}

// brandStarts and brandEnds make brand names ("Nordvik", "Hallsen").
var (
	brandStarts = []string{"Nord", "Hall", "Vest", "Bram", "Kal", "Lind", "Ost", "Mar", "Sol", "Berg",
		"Fjell", "Ash", "Elm", "Oak", "Wren", "Fox", "Stone", "Brook", "Moss", "Tide"}
	brandEnds = []string{"vik", "sen", "ford", "wood", "ly", "by", "holm", "mark", "dal", "ton", "crest", "field"}
)
