package scaffold

import "strings"

// Vocabulary used to read prompts. Words are lowercase ASCII after folding.

func set(words ...string) map[string]bool {
	m := make(map[string]bool, len(words))
	for _, w := range words {
		m[w] = true
	}
	return m
}

var irregularSingular = map[string]string{
	"people": "person", "children": "child", "men": "man", "women": "woman", "mice": "mouse",
	"geese": "goose", "teeth": "tooth", "feet": "foot", "data": "data", "criteria": "criterion",
	"movies": "movie", "cookies": "cookie", "calories": "calorie", "pies": "pie", "ties": "tie",
	"lies": "lie", "zombies": "zombie", "selfies": "selfie", "smoothies": "smoothie",
	"brownies": "brownie", "goodies": "goodie", "rookies": "rookie", "shoes": "shoe", "toes": "toe",
	"canoes": "canoe", "knives": "knife", "wives": "wife", "lives": "life", "leaves": "leaf",
	"wolves": "wolf", "shelves": "shelf", "halves": "half", "loaves": "loaf", "thieves": "thief",
	"analyses": "analysis", "diagnoses": "diagnosis", "theses": "thesis", "crises": "crisis",
	"indices": "index", "matrices": "matrix", "vertices": "vertex", "quizzes": "quiz",
	"buses": "bus", "todos": "todo", "photos": "photo", "videos": "video", "radios": "radio",
	"pianos": "piano", "memos": "memo", "logos": "logo", "demos": "demo", "recipes": "recipe",
	"caches": "cache", "niches": "niche", "clothes": "clothes", "lenses": "lens", "courses": "course",
	"horses": "horse", "houses": "house", "purchases": "purchase", "releases": "release",
	"cases": "case", "phases": "phase", "databases": "database", "expenses": "expense",
	"responses": "response", "licenses": "license", "nurses": "nurse", "verses": "verse",
	"exercises": "exercise", "increases": "increase", "uses": "use", "doses": "dose",
	"roses": "rose", "noses": "nose", "bases": "base", "places": "place", "prices": "price",
	"pages": "page", "images": "image", "languages": "language", "messages": "message",
	"sites": "site", "notes": "note", "dates": "date", "rates": "rate", "states": "state",
	"votes": "vote", "quotes": "quote", "routes": "route", "types": "type", "files": "file",
	"titles": "title", "scores": "score", "stores": "store", "stages": "stage", "issues": "issue",
	"wines": "wine", "games": "game", "names": "name", "times": "time", "values": "value",
	"articles": "article", "vehicles": "vehicle", "candidates": "candidate", "templates": "template",
	"invoices": "invoice", "services": "service", "devices": "device", "sources": "source",
	"resources": "resource", "pieces": "piece", "spaces": "space", "choices": "choice",
	"voices": "voice", "offices": "office", "sentences": "sentence", "glasses": "glass",
	"boxes": "box", "taxes": "tax", "dishes": "dish", "wishes": "wish", "matches": "match",
	"batches": "batch", "sketches": "sketch", "coaches": "coach", "churches": "church",
	"potatoes": "potato", "tomatoes": "tomato", "heroes": "hero", "echoes": "echo",
}

// invariant nouns look plural but are not (or have no distinct singular).
var invariantNoun = set("series", "species", "news", "status", "sheep", "fish", "deer", "aircraft",
	"info", "information", "equipment", "software", "hardware", "feedback", "progress", "analytics",
	"metrics", "sales", "physics", "mathematics", "economics", "athletics", "politics", "gymnastics",
	"address", "business", "process", "class", "glass", "pass", "boss", "chess", "dress", "access",
	"success", "bonus", "campus", "virus", "focus", "census", "corpus", "genus", "thesis", "analysis",
	"basis", "crisis", "diagnosis", "axis", "bus", "gas", "plus", "yes", "lens", "always", "notes",
	"lyrics", "clothes", "needs", "wellness", "fitness", "happiness", "kindness", "goods", "this", "its", "his",
	"was", "has", "does", "is", "us", "as", "less", "miss", "kiss", "moss", "loss", "cross")

// singular returns the singular form of a lowercase English noun.
func singular(w string) string {
	if s, ok := irregularSingular[w]; ok {
		return s
	}
	if invariantNoun[w] || len(w) < 3 || !strings.HasSuffix(w, "s") {
		return w
	}
	switch {
	case strings.HasSuffix(w, "ies") && len(w) > 4:
		return w[:len(w)-3] + "y"
	case strings.HasSuffix(w, "sses"), strings.HasSuffix(w, "shes"), strings.HasSuffix(w, "ches"),
		strings.HasSuffix(w, "xes"), strings.HasSuffix(w, "zzes"):
		return w[:len(w)-2]
	case strings.HasSuffix(w, "ss"), strings.HasSuffix(w, "us"), strings.HasSuffix(w, "is"):
		return w
	}
	return w[:len(w)-1]
}

var irregularPlural = map[string]string{
	"person": "people", "child": "children", "man": "men", "woman": "women", "mouse": "mice",
	"goose": "geese", "tooth": "teeth", "foot": "feet", "knife": "knives", "life": "lives",
	"leaf": "leaves", "wolf": "wolves", "shelf": "shelves", "half": "halves", "quiz": "quizzes",
	"analysis": "analyses", "criterion": "criteria", "potato": "potatoes", "tomato": "tomatoes",
	"hero": "heroes", "echo": "echoes", "index": "indexes",
}

// plural returns the plural form of a lowercase English noun.
func plural(w string) string {
	if p, ok := irregularPlural[w]; ok {
		return p
	}
	if invariantNoun[w] || w == "" || isPlural(w) {
		return w
	}
	switch {
	case strings.HasSuffix(w, "y") && len(w) > 1 && !strings.ContainsRune("aeiou", rune(w[len(w)-2])):
		return w[:len(w)-1] + "ies"
	case strings.HasSuffix(w, "s"), strings.HasSuffix(w, "x"), strings.HasSuffix(w, "z"),
		strings.HasSuffix(w, "ch"), strings.HasSuffix(w, "sh"):
		return w + "es"
	}
	return w + "s"
}

func isPlural(w string) bool { return singular(w) != w }

// Kind keywords. A "strong" word names the kind outright; a crud noun names
// an app that manages records; a "weak" word only hints.
var (
	strongKind = map[string]string{
		"kanban": "kanban", "dashboard": "dashboard", "dashboards": "dashboard",
		"landing": "landing", "homepage": "landing", "trello": "kanban", "survey": "form", "questionnaire": "form",
		"form": "form", "forms": "form", "poll": "form", "quiz": "form",
	}
	weakKind = map[string]string{
		"board": "kanban", "pipeline": "kanban", "workflow": "kanban",
		"sprint": "kanban", "scrum": "kanban",
		"analytics": "dashboard", "metrics": "dashboard", "kpi": "dashboard", "kpis": "dashboard",
		"chart": "dashboard", "charts": "dashboard", "stats": "dashboard", "statistics": "dashboard",
		"report": "dashboard", "reports": "dashboard", "insights": "dashboard", "monitor": "dashboard",
		"marketing": "landing", "website": "landing", "site": "landing", "portfolio": "landing",
		"storefront": "landing", "brochure": "landing", "promo": "landing", "launch": "landing",
		"signup": "form", "contact": "form", "rsvp": "form", "registration": "form", "feedback": "form",
		"checkout": "form", "booking": "form", "enquiry": "form", "inquiry": "form",
	}
	crudNoun = set("tracker", "manager", "list", "log", "logger", "catalog", "catalogue", "crud",
		"inventory", "organizer", "organiser", "journal", "diary", "database", "directory",
		"collection", "planner", "crm", "register", "registry", "library", "notebook", "keeper",
		"wishlist", "watchlist", "checklist", "ledger", "roster", "archive", "logbook", "tracking",
		"todo", "todos", "todolist")
	// appNoun words name "an app" without saying which kind.
	appNoun = set("app", "apps", "application", "tool", "system", "software", "program", "platform",
		"portal", "hub", "webapp", "web", "page", "site", "website", "thing", "project", "ui",
		"interface", "frontend", "spa", "prototype", "mvp", "clone")
)

// filler words never name a subject.
var filler = set("a", "an", "the", "i", "me", "my", "we", "us", "our", "you", "your", "please",
	"build", "create", "make", "generate", "write", "design", "develop", "code", "want", "need",
	"would", "like", "love", "can", "could", "should", "will", "just", "some", "something", "simple",
	"small", "basic", "little", "nice", "beautiful", "modern", "clean", "minimal", "minimalist",
	"cool", "quick", "fast", "easy", "new", "good", "great", "awesome", "fancy", "pretty", "sleek",
	"responsive", "single", "one", "very", "really", "super", "lightweight", "tiny", "elegant",
	"stylish", "fun", "cute", "neat", "complete", "full", "fully", "featured", "functional",
	"working", "real", "proper", "hey", "hi", "hello", "ok", "okay", "so", "let", "lets", "let's",
	"give", "get", "it", "this", "that", "is", "be", "are", "to", "for", "of", "with", "and",
	"react", "typescript", "vite", "using", "called", "named", "am", "im", "help", "also", "s",
	"interactive", "static", "dynamic", "mobile", "friendly", "based", "style", "styled", "kind",
	"sort", "type", "kinda", "bit", "lot", "lots", "tsx", "js", "javascript", "html", "css")

// adjective words may start a title ("Personal Finance Tracker") but are
// not part of the entity name.
var adjective = set("personal", "daily", "weekly", "monthly", "yearly", "annual", "family",
	"team", "shared", "home", "household", "online", "local", "favorite", "favourite", "private",
	"public", "office", "company", "small", "internal", "digital", "virtual", "smart", "group",
	"school", "class", "work", "my", "our", "kids", "student", "students", "care", "management",
	"planning", "maintenance", "tracking", "organizing", "organization")

// boundary words end a noun phrase or a list.
var boundary = set("with", "for", "that", "which", "who", "where", "when", "to", "so", "of",
	"in", "on", "at", "by", "from", "using", "including", "includes", "include", "containing",
	"contains", "having", "has", "have", "and", "or", "but", "because", "then", "if", "as",
	"where", "while", "about", "into", "like", "via", "per", "tracks", "track", "tracking",
	"lets", "allows", "allowing", "showing", "shows", "displaying", "displays", "listing",
	"stores", "storing", "manages", "managing", "keeps", "keep", "helps", "is", "are", "should",
	"must", "can", "could", "will", "would", "it", "called", "named")

// clauseEnd words end a list of fields or entities.
var clauseEnd = set("so", "that", "which", "where", "when", "because", "then", "but", "using",
	"in", "on", "by", "from", "while", "if", "via", "who", "whose", "should", "must", "can",
	"could", "will", "would", "is", "are", "was", "were", "it", "to", "for", "into", "like",
	"please", "also", "i", "we", "you", "they", "let", "lets", "allow", "allows", "make", "build")

// listSep words separate list items.
var listSep = set("and", "or", "plus", "&", ",", "/", "+", "as well as")

// determiners are dropped from the start of list items.
var determiner = set("a", "an", "the", "some", "their", "its", "his", "her", "my", "our", "your",
	"optional", "required", "each", "every", "one", "multiple", "several", "any", "all", "other",
	"extra", "additional", "more", "new", "field", "fields", "column", "columns", "also", "maybe",
	"possibly", "perhaps", "simple", "basic", "short", "long", "custom")

// itemSuffix words are dropped from the end of list items ("a notes field").
var itemSuffix = set("field", "fields", "column", "property", "properties", "attribute", "flag", "flags",
	"attributes", "input", "inputs", "box", "checkbox", "toggle", "entry",
	"option", "too", "as", "well", "also", "please")

// nonField words describe the app rather than a record's data; list items
// made of them are skipped ("with a dark theme", "with React").
var nonField = set("dark", "light", "theme", "themes", "mode", "design", "ui", "ux", "style",
	"styles", "styling", "color", "colors", "colour", "colours", "responsive", "mobile", "layout",
	"look", "animation", "animations", "react", "typescript", "vite", "tailwind", "css", "html",
	"javascript", "localstorage", "storage", "database", "backend", "api", "login", "logins", "auth",
	"authentication", "account", "accounts", "search", "searching", "filter", "filters", "filtering",
	"sort", "sorting", "pagination", "export", "import", "offline", "sync", "chart", "charts",
	"graph", "graphs", "nav", "navigation", "sidebar", "header", "footer", "button", "buttons",
	"icons", "icon", "feel", "vibe", "font", "fonts", "gradient", "gradients", "shadow", "shadows",
	"cards", "modal", "modals", "server", "firebase", "supabase", "stripe", "payments", "users",
	"notifications", "emails", "persistence", "ability", "option", "options", "support", "way",
	"ways", "page", "screen", "screens", "app", "interface", "it", "them", "things", "stuff",
	"etc", "everything", "anything", "something", "lots", "loads", "local", "state", "drag", "drop",
	"emoji", "emojis", "tabs", "tab", "view", "views")

// unsupported words ask for something a browser-only scaffold cannot do.
var unsupported = set("login", "logins", "auth", "authentication", "account", "accounts",
	"backend", "server", "api", "database", "firebase", "supabase", "stripe", "payments",
	"notifications", "emails", "sync", "users", "multiplayer", "realtime")

// entityAlias maps a subject word to the record it implies.
var entityAlias = map[string][]string{
	"finance": {"transaction"}, "finances": {"transaction"}, "money": {"transaction"},
	"spending": {"expense"}, "budget": {"expense"}, "budgeting": {"expense"},
	"grocery": {"grocery", "item"}, "groceries": {"grocery", "item"}, "shopping": {"shopping", "item"},
	"todo": {"task"}, "todos": {"task"}, "todolist": {"task"}, "to": {"task"}, "reading": {"book"},
	"watchlist": {"movie"}, "watch": {"movie"}, "fitness": {"workout"}, "exercise": {"workout"},
	"gym": {"workout"}, "training": {"workout"}, "time": {"time", "entry"}, "sleep": {"sleep", "entry"},
	"mood": {"mood", "entry"}, "diary": {"entry"}, "journal": {"entry"}, "inventory": {"inventory", "item"},
	"crm": {"contact"}, "hiring": {"candidate"}, "recruiting": {"candidate"}, "recruitment": {"candidate"},
	"sales": {"deal"}, "content": {"post"}, "editorial": {"post"}, "blog": {"post"}, "wishlist": {"wish"},
	"checklist": {"task"}, "study": {"study", "session"}, "homework": {"assignment"}, "job": {"job"},
	"health": {"health", "entry"}, "medication": {"medication"}, "meds": {"medication"},
	"water": {"water", "entry"}, "weight": {"weigh", "in"}, "travel": {"trip"}, "vacation": {"trip"},
	"wine": {"wine"}, "music": {"song"}, "bug": {"bug"}, "support": {"ticket"}, "helpdesk": {"ticket"},
	"library": {"book"}, "project": {"task"}, "sprint": {"task"}, "team": {"task"}, "work": {"task"},
	"personal": {"task"},
}

// knownFields gives sensible fields for common records when a prompt names
// none. Each entry is "words:type", with words joined by spaces.
var knownFields = map[string][]string{
	"task":           {"title:string", "done:boolean", "due date:date", "priority:string"},
	"book":           {"title:string", "author:string", "rating:rating", "read:boolean"},
	"movie":          {"title:string", "year:number", "rating:rating", "watched:boolean"},
	"show":           {"title:string", "season:number", "rating:rating", "watched:boolean"},
	"recipe":         {"name:string", "ingredients:string[]", "steps:string[]", "rating:rating"},
	"expense":        {"description:string", "amount:number", "date:date", "category:string"},
	"transaction":    {"description:string", "amount:number", "date:date", "category:string"},
	"contact":        {"name:string", "email:string", "phone:string", "notes:string"},
	"habit":          {"name:string", "streak:number", "done today:boolean"},
	"workout":        {"exercise:string", "date:date", "duration minutes:number", "notes:string"},
	"note":           {"title:string", "body:string", "tags:string[]"},
	"bug":            {"title:string", "severity:string", "steps to reproduce:string[]", "resolved:boolean"},
	"ticket":         {"title:string", "customer:string", "priority:string", "resolved:boolean"},
	"issue":          {"title:string", "severity:string", "resolved:boolean"},
	"event":          {"name:string", "date:date", "location:string"},
	"product":        {"name:string", "price:number", "quantity:number", "in stock:boolean"},
	"item":           {"name:string", "notes:string"},
	"inventory item": {"name:string", "quantity:number", "price:number", "location:string"},
	"grocery item":   {"name:string", "quantity:number", "bought:boolean"},
	"shopping item":  {"name:string", "quantity:number", "bought:boolean"},
	"project":        {"name:string", "deadline:date", "status:string"},
	"application":    {"company:string", "role:string", "applied date:date", "status:string"},
	"job":            {"company:string", "role:string", "applied date:date", "status:string"},
	"plant":          {"name:string", "last watered:date", "notes:string"},
	"song":           {"title:string", "artist:string", "rating:rating"},
	"album":          {"title:string", "artist:string", "year:number"},
	"game":           {"title:string", "platform:string", "rating:rating", "completed:boolean"},
	"restaurant":     {"name:string", "cuisine:string", "rating:rating", "visited:boolean"},
	"trip":           {"destination:string", "start date:date", "end date:date", "notes:string"},
	"goal":           {"title:string", "target date:date", "progress:number", "achieved:boolean"},
	"student":        {"name:string", "email:string", "grade:string"},
	"employee":       {"name:string", "role:string", "email:string", "start date:date"},
	"customer":       {"name:string", "email:string", "company:string", "notes:string"},
	"client":         {"name:string", "email:string", "company:string", "notes:string"},
	"deal":           {"title:string", "company:string", "value:number"},
	"candidate":      {"name:string", "role:string", "email:string"},
	"post":           {"title:string", "author:string", "publish date:date", "tags:string[]"},
	"article":        {"title:string", "author:string", "publish date:date", "tags:string[]"},
	"idea":           {"title:string", "description:string", "tags:string[]"},
	"meal":           {"name:string", "calories:number", "date:date"},
	"medication":     {"name:string", "dose:string", "times per day:number"},
	"pet":            {"name:string", "species:string", "birthday:date"},
	"assignment":     {"title:string", "course:string", "due date:date", "done:boolean"},
	"wish":           {"name:string", "price:number", "link:string"},
	"wine":           {"name:string", "vintage:number", "rating:rating", "notes:string"},
	"entry":          {"title:string", "date:date", "body:string"},
	"person":         {"name:string", "email:string", "notes:string"},
	"author":         {"name:string", "bio:string"},
	"loan":           {"borrower:string", "due date:date", "returned:boolean"},
	"order":          {"customer:string", "total:number", "date:date", "shipped:boolean"},
	"invoice":        {"client:string", "amount:number", "due date:date", "paid:boolean"},
	"course":         {"title:string", "instructor:string", "progress:number"},
	"podcast":        {"title:string", "host:string", "rating:rating"},
	"lead":           {"name:string", "company:string", "email:string"},
}

// Form defaults, keyed by the word before "form".
var formFields = map[string][]string{
	"contact":      {"name:string", "email:string", "message:string"},
	"signup":       {"name:string", "email:string", "password hint:string"},
	"registration": {"name:string", "email:string", "phone:string"},
	"feedback":     {"name:string", "email:string", "rating:rating", "comments:string"},
	"rsvp":         {"name:string", "email:string", "attending:boolean", "guests:number"},
	"booking":      {"name:string", "email:string", "date:date", "guests:number"},
	"survey":       {"name:string", "rating:rating", "comments:string"},
	"application":  {"name:string", "email:string", "phone:string", "cover letter:string"},
	"order":        {"name:string", "email:string", "quantity:number", "notes:string"},
}

// dashboard metric defaults, keyed by subject word.
var dashboardMetrics = map[string][]string{
	"sales":     {"revenue", "orders", "average order value", "conversion rate"},
	"fitness":   {"steps", "calories", "active minutes", "sleep hours"},
	"health":    {"steps", "sleep hours", "resting heart rate", "water glasses"},
	"finance":   {"income", "expenses", "savings", "savings rate"},
	"budget":    {"income", "expenses", "savings"},
	"website":   {"visitors", "page views", "signups", "bounce rate"},
	"traffic":   {"visitors", "page views", "signups", "bounce rate"},
	"analytics": {"visitors", "page views", "signups", "bounce rate"},
	"social":    {"followers", "likes", "comments", "engagement rate"},
	"marketing": {"impressions", "clicks", "leads", "click rate"},
	"support":   {"tickets", "resolved tickets", "response minutes", "satisfaction"},
	"project":   {"tasks completed", "tasks open", "hours logged"},
	"team":      {"tasks completed", "tasks open", "hours logged"},
	"energy":    {"kwh used", "cost", "solar kwh"},
	"store":     {"revenue", "orders", "returns", "average order value"},
	"shop":      {"revenue", "orders", "returns", "average order value"},
	"habit":     {"habits completed", "longest streak", "completion rate"},
	"reading":   {"books finished", "pages read", "reading hours"},
	"book":      {"books finished", "pages read", "reading hours"},
	"recipe":    {"meals cooked", "new recipes", "average rating"},
	"cooking":   {"meals cooked", "new recipes", "average rating"},
	"expense":   {"spending", "transactions", "budget used rate"},
	"task":      {"tasks completed", "tasks open", "on time rate"},
	"workout":   {"workouts", "active minutes", "calories"},
}

// kanbanColumns gives board columns, keyed by subject word.
var kanbanColumns = map[string][]string{
	"sales":     {"Lead", "Contacted", "Proposal", "Won", "Lost"},
	"deal":      {"Lead", "Contacted", "Proposal", "Won", "Lost"},
	"hiring":    {"Applied", "Interview", "Offer", "Hired"},
	"candidate": {"Applied", "Interview", "Offer", "Hired"},
	"job":       {"Wishlist", "Applied", "Interview", "Offer"},
	"content":   {"Idea", "Draft", "Review", "Published"},
	"post":      {"Idea", "Draft", "Review", "Published"},
	"article":   {"Idea", "Draft", "Review", "Published"},
	"bug":       {"Reported", "Triaged", "Fixing", "Fixed"},
	"ticket":    {"New", "Open", "Waiting", "Closed"},
	"reading":   {"To read", "Reading", "Finished"},
	"book":      {"To read", "Reading", "Finished"},
}

var defaultColumns = []string{"To do", "In progress", "Done"}

// Field-type vocabulary.
var (
	ratingWords = set("rating", "ratings", "stars", "star")
	boolWords   = set("done", "completed", "complete", "finished", "watched", "visited", "paid",
		"archived", "favorite", "favourite", "starred", "active", "enabled", "published", "pinned",
		"approved", "verified", "available", "checked", "attended", "attending", "returned", "owned",
		"shipped", "delivered", "resolved", "read", "tried", "booked", "confirmed", "cancelled",
		"canceled", "urgent", "private", "public", "vegetarian", "vegan", "bought", "purchased",
		"packed", "achieved", "signed", "subscribed", "important", "flagged", "recurring", "cooked",
		"played", "listened", "open", "closed", "hidden", "accepted", "rejected", "hired", "sold")
	dateWords = set("date", "dates", "due", "deadline", "deadlines", "birthday", "birthdays",
		"birthdate", "dob", "anniversary", "expiry", "expiration", "expires", "day", "when", "since",
		"until", "scheduled", "deadline")
	numberWords = set("price", "prices", "amount", "amounts", "cost", "costs", "count", "counts",
		"quantity", "quantities", "qty", "total", "totals", "budget", "salary", "age", "weight",
		"height", "calories", "calorie", "kcal", "servings", "serving", "minutes", "mins", "hours",
		"hrs", "seconds", "duration", "distance", "score", "scores", "pages", "year", "years", "rank",
		"percent", "percentage", "balance", "fee", "fees", "revenue", "income", "profit", "temperature",
		"streak", "reps", "sets", "laps", "miles", "km", "kilometers", "kilometres", "kg", "kgs", "lbs",
		"pounds", "liters", "litres", "ml", "grams", "points", "votes", "likes", "views", "followers",
		"level", "progress", "capacity", "stock", "value", "worth", "spent", "earned", "paid",
		"size", "length", "width", "depth", "volume", "speed", "pace", "dose", "rate", "guests",
		"visitors", "orders", "clicks", "impressions", "signups", "leads", "tickets", "returns",
		"expenses", "savings", "vintage", "season", "episode", "episodes", "chapter", "chapters",
		"sessions", "attempts", "goals", "wins", "losses", "bpm", "mileage", "kwh",
		"glasses", "satisfaction", "estimate", "effort", "tip", "tips", "deposit", "rent", "tax", "discount")
	numberPrefix = set("number", "num", "no", "how", "amount", "count", "total")
	// nonNumberBefore words make "number" a label, not a quantity ("phone number").
	idNumberWords = set("phone", "serial", "order", "tracking", "account", "id", "reference",
		"house", "model", "part", "license", "licence", "isbn", "invoice", "room", "flight",
		"seat", "table", "policy", "case", "member", "membership", "mobile", "contact", "telephone")
	timeNumberBefore = set("cooking", "cook", "prep", "preparation", "reading", "total", "running",
		"watch", "screen", "travel", "baking", "bake", "study", "focus", "play", "practice", "work",
		"workout", "exercise", "sleep", "wait", "waiting", "response", "commute", "drive", "flight")
	listWords = set("ingredients", "tags", "steps", "labels", "categories", "keywords", "genres",
		"skills", "attendees", "participants", "members", "links", "urls", "toppings", "instructions",
		"directions", "subtasks", "photos", "images", "actors", "cast", "platforms", "languages",
		"tools", "materials", "equipment", "allergens", "symptoms", "features", "requirements",
		"hobbies", "interests", "topics", "authors", "ingredient", "items", "friends",
		"side", "effects", "pros", "cons", "moods", "activities", "exercises", "aliases",
		"contributors", "assignees", "owners", "sources", "references", "notes_list", "colors",
		"colours", "flavors", "flavours", "varieties", "dependencies", "parts", "stops", "cities",
		"countries", "places", "destinations", "books", "movies", "songs", "tasks")
	textareaWords = set("notes", "note", "description", "summary", "comments", "comment", "bio",
		"biography", "message", "details", "body", "content", "review", "reviews", "feedback",
		"thoughts", "story", "text", "memo", "remarks", "answer", "explanation", "reason", "lyrics",
		"letter", "journal", "entry", "reflection", "plot", "synopsis", "abstract", "address", "recap",
		"overview", "request", "question", "problem", "solution", "instructions_text", "observations")
	emailWords = set("email", "emails", "mail")
	telWords   = set("phone", "telephone", "mobile", "cell", "tel")
	urlWords   = set("url", "urls", "website", "link", "homepage", "site", "web", "href", "github", "linkedin")
	// titleEntity records are headed by "title" rather than "name".
	titleEntity = set("task", "book", "movie", "note", "bug", "issue", "post", "article", "song",
		"album", "game", "idea", "goal", "deal", "episode", "show", "course", "paper", "story",
		"video", "podcast", "ticket", "assignment", "entry", "todo", "lesson", "chore", "card")
	// statusField names duplicate a kanban card's column.
	statusField = set("status", "stage", "column", "state", "phase", "lane", "progress")
)

// Palette vocabulary.
var colorWords = map[string]string{
	"blue": "ocean", "navy": "ocean", "sky": "ocean", "ocean": "ocean", "cyan": "ocean",
	"green": "forest", "forest": "forest", "emerald": "forest", "lime": "forest", "olive": "forest",
	"orange": "sunset", "amber": "sunset", "yellow": "sunset", "warm": "sunset", "sunset": "sunset", "gold": "sunset",
	"purple": "berry", "violet": "berry", "pink": "berry", "magenta": "berry", "lavender": "berry",
	"teal": "lagoon", "turquoise": "lagoon", "mint": "lagoon",
	"red": "rose", "crimson": "rose", "rose": "rose", "coral": "rose",
	"gray": "slate", "grey": "slate", "neutral": "slate", "monochrome": "slate", "black": "midnight",
	"dark": "midnight", "night": "midnight", "midnight": "midnight",
	"indigo": "indigo", "calm": "indigo",
}

var topicPalette = map[string]string{
	"recipe": "sunset", "food": "sunset", "cooking": "sunset", "coffee": "sunset", "restaurant": "sunset",
	"bakery": "sunset", "meal": "sunset", "cafe": "sunset", "kitchen": "sunset", "pizza": "sunset",
	"finance": "forest", "money": "forest", "expense": "forest", "budget": "forest", "sales": "forest",
	"invoice": "forest", "plant": "forest", "garden": "forest", "transaction": "forest", "deal": "forest",
	"fitness": "lagoon", "workout": "lagoon", "health": "lagoon", "habit": "lagoon", "sleep": "lagoon",
	"medication": "lagoon", "water": "lagoon", "meditation": "lagoon", "yoga": "lagoon",
	"book": "indigo", "reading": "indigo", "note": "indigo", "study": "indigo", "course": "indigo",
	"bug": "slate", "issue": "slate", "ticket": "slate", "developer": "slate", "code": "slate",
	"movie": "berry", "music": "berry", "song": "berry", "game": "berry", "event": "berry", "party": "berry",
	"wine": "rose", "love": "rose", "wedding": "rose", "gift": "rose",
	"travel": "ocean", "trip": "ocean", "task": "ocean", "project": "ocean", "contact": "ocean",
}
