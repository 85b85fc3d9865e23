"""The words of the offline news sentences (jobs/data/sentences.py): CoNLL-2003's kinds of words.

CoNLL-2003 is Reuters news of 1996: about 6600 distinct words in the 1500 TextLen training
sentences once they are cut, most of them names, places, organisations and figures. Typing
that many words is neither possible nor useful, so the open classes are built from parts:
- people: first names x surnames, the surnames partly real, partly head + tail ("Ash" +
  "ford", "Van" + "Dijk"), titled as news titles them ("Finance Minister Anna Kessler");
- places: capitals and cities, plus towns from heads and tails ("Kirk" + "wood");
- organisations: a name (surname, town or brand) + a sector + a legal form ("Ashford Mining Corp");
- figures: prices, percentages, scores, years and counts, drawn at random (jobs/data/sentences.py).
The ordinary words (nouns, verbs, adjectives of business, politics, sport and crime) are typed.
"""
from __future__ import annotations


def _words(text: str) -> list[str]:
    return text.split()


def _phrases(text: str) -> list[str]:
    """'|'-separated phrases (multi-word items)."""
    return [p.strip() for p in text.split("|") if p.strip()]


FIRST_NAMES = _words("""
John Mary Peter Anna Michael Sarah David Laura James Helen Robert Karen Thomas Susan Richard Linda Paul
Nancy Mark Julia George Diana Steven Martha Andrew Emma Brian Claire Kevin Ruth Alan Joan Colin Fiona
Graham Sheila Martin Alison Neil Carol Stuart Wendy Simon Janet Ian Judith Philip Gillian Nigel Heather
Hans Ulrike Klaus Petra Jurgen Heike Wolfgang Sabine Dieter Monika Helmut Gerhard Karl Renate Jean
Pierre Marie Francois Isabelle Jacques Sylvie Michel Nathalie Alain Christine Philippe Dominique Carlos
Maria Jose Ana Luis Carmen Juan Elena Miguel Pilar Antonio Lucia Giovanni Giulia Marco Francesca Luca
Paola Sergei Olga Boris Irina Viktor Natalia Dmitry Tatiana Yuri Svetlana Ivan Vladimir Nikolai Pavel
Jan Piotr Katarzyna Tomasz Agnieszka Lars Ingrid Erik Astrid Nils Sven Karin Bjorn Jens Hiroshi Yuki
Kenji Akira Haruko Takeshi Li Wei Zhang Chen Ahmed Fatima Mohammed Omar Leila Hassan Yusuf Ali Nelson
Thabo Grace Samuel Esther Kofi Amina Joseph Ruth Daniel Rebecca Mustafa Ayse Mehmet Raj Priya Sanjay
Anil Sunil Greg Shane Wayne Darren Craig Dean Lee Ricky Tony Gary Bill Warren Madeleine Hillary Newt
Bob Jacques Yasser Benjamin Shimon Nawaz Benazir Kim Jiang Ernesto Alberto Fernando Eduardo Ricardo
Rafael Sergio Andre Marcel Gustavo Patrick Sean Declan Siobhan Bridget Henrik Mats Anders Stefan Ole
""")
SURNAMES = _words("""
Smith Jones Brown Taylor Wilson Evans Walker Wright Thompson White Hughes Edwards Green Hall Wood Harris
Lewis Martin Jackson Clarke Clark Turner Hill Scott Cooper Morris Ward Moore King Watson Baker Harrison
Morgan Patel Young Allen Mitchell James Anderson Phillips Lee Bell Parker Davis Kohl Kinkel Waigel
Tietmeyer Schmidt Mueller Schneider Fischer Weber Meyer Wagner Becker Schulz Hoffmann Koch Richter Klein
Wolf Neumann Schwarz Zimmermann Braun Krueger Hartmann Lange Werner Krause Lehmann Dubois Durand Leroy
Moreau Laurent Simon Michel Lefebvre Mercier Bonnet Girard Juppe Chirac Gonzalez Rodriguez Fernandez
Lopez Martinez Sanchez Perez Garcia Romero Torres Ramirez Aznar Rossi Russo Ferrari Esposito Bianchi
Romano Colombo Ricci Marino Greco Prodi Dini Ivanov Petrov Sidorov Smirnov Kuznetsov Popov Lebedev Kozlov
Novikov Morozov Yeltsin Chernomyrdin Lebed Zyuganov Chubais Kowalski Nowak Wisniewski Wojcik Kaminski
Lewandowski Johansson Andersson Karlsson Nilsson Eriksson Larsson Olsson Persson Hansen Jensen Nielsen
Pedersen Tanaka Suzuki Takahashi Watanabe Ito Yamamoto Nakamura Kobayashi Hashimoto Wang Liu Zhao Yang
Huang Zhou Wu Xu Sun Ma Khan Hussein Rahman Arafat Netanyahu Peres Sharif Bhutto Mandela Mbeki Okafor
Mensah Mugabe Kabila Kenyatta Moi Yilmaz Erbakan Ciller Demir Singh Sharma Gupta Rao Gowda Clinton Dole
Gingrich Christopher Albright Perot Kemp Major Blair Clarke Heseltine Portillo Prescott Ahern Bruton
Howard Keating Chretien Mulroney Zedillo Menem Cardoso Fujimori Samper Frei Caldera Kohl Santer Kinnock
Brittan Bangemann Delors Solana Boutros Annan Lamy Greenspan Rubin Summers Lawson Lamont Eddington
""")
SURNAME_HEADS = _words("""
Ash Black Brad Brook Cart Clay Cole Cran Dal Dun Fair Fen Gold Green Hart Haw Hay Hol Kirk Lang Lind Mar
Mill New North Oak Pen Rad Red Ross South Stan Stock Thorn Wake War West Whit Wind Wood Ber Cal Dor Hal
Kel Mor Nor Pem Ral Sel Wal Har Mel Bur Cres Gran Hamp Lock Rock Sher Staf Sut
""")
SURNAME_TAILS = _words("ford ley ton well wood by field more ham worth stone brook man berg stein mann dale wick land")
FOREIGN_PREFIXES = _phrases("van der | de la | van | von | di | al- | bin | O' | Mac | Mc")
# Syllables of names from the rest of the world ("Ka" + "ro" + "vic"): onsets, vowels, endings.
ONSETS = _words("B Br C Ch D Dr F G Gr H J K Kr L M N P Pr R S Sh St T Tr V Vl W Y Z Zh")
VOWELS = _words("a e i o u ai ei ou ya")
MIDDLES = _words("b d g k l m n r s t v z ch sh")
FIRST_ENDINGS = _words("a o el an ir ek ina ko ja us im ul")
ENDINGS = _words("""ov ova ic ski ska ez es ini ino ello oglu ani ura oto enko uk escu is idis sen son
ar er an in aki ata ola ema ade umi wa""")
PLACES = _phrases("""
Brussels | Bonn | London | Paris | Moscow | Tokyo | Washington | Madrid | Rome | Jakarta | Sydney |
Johannesburg | Frankfurt | New York | Hong Kong | Nairobi | Buenos Aires | Stockholm | Warsaw | Lisbon |
Colombo | Ankara | Seoul | Mexico City | Beijing | Cairo | Lagos | Oslo | Vienna | Prague | Budapest |
Athens | Dublin | Manila | Bangkok | Karachi | Sarajevo | Belgrade | Kiev | Toronto | Chicago | Sao Paulo |
Lima | Santiago | Harare | Kinshasa | Tehran | Jerusalem | Amman | Beirut | Damascus | Baghdad | Riyadh |
Kuwait | Dubai | Islamabad | New Delhi | Bombay | Calcutta | Dhaka | Kathmandu | Kabul | Tashkent |
Almaty | Grozny | Minsk | Vilnius | Riga | Tallinn | Helsinki | Copenhagen | Amsterdam | Rotterdam |
The Hague | Antwerp | Luxembourg | Zurich | Geneva | Milan | Turin | Naples | Barcelona | Seville |
Bilbao | Porto | Marseille | Lyon | Strasbourg | Munich | Hamburg | Berlin | Cologne | Stuttgart |
Dresden | Leipzig | Manchester | Liverpool | Leeds | Glasgow | Edinburgh | Belfast | Cardiff | Bristol |
Birmingham | Sheffield | Newcastle | Boston | Los Angeles | San Francisco | Houston | Dallas | Miami |
Atlanta | Detroit | Denver | Seattle | Montreal | Vancouver | Ottawa | Havana | Caracas | Bogota |
Quito | La Paz | Montevideo | Brasilia | Rio de Janeiro | Panama City | Managua | San Salvador |
Guatemala City | Kingston | Lusaka | Kampala | Kigali | Bujumbura | Addis Ababa | Khartoum | Algiers |
Tunis | Rabat | Dakar | Abidjan | Accra | Luanda | Maputo | Pretoria | Durban | Cape Town | Singapore |
Kuala Lumpur | Hanoi | Phnom Penh | Rangoon | Taipei | Shanghai | Canton | Osaka | Wellington |
Auckland | Melbourne | Perth | Brisbane | Adelaide | Bucharest | Sofia | Zagreb | Ljubljana | Bratislava |
Tirana | Skopje | Nicosia | Valletta | Reykjavik | Gaza | Hebron | Nablus | Tel Aviv | Basra | Mosul |
Istanbul | Izmir | Bonn | Pyongyang | Dili | Port Moresby | Suva | Colombo | Jaffna | Srinagar
""")
COUNTRIES = _phrases("""
Britain | Germany | France | Spain | Italy | Russia | Japan | China | India | Pakistan | Brazil |
Argentina | Mexico | Canada | Australia | South Africa | Nigeria | Kenya | Egypt | Israel | Iran | Iraq |
Syria | Jordan | Lebanon | Turkey | Greece | Poland | Hungary | Romania | Bulgaria | Ukraine | Belarus |
Sweden | Norway | Denmark | Finland | the Netherlands | Belgium | Austria | Switzerland | Portugal |
Ireland | Indonesia | Malaysia | Thailand | the Philippines | Vietnam | South Korea | North Korea |
Taiwan | Sri Lanka | Bangladesh | Afghanistan | Zaire | Rwanda | Burundi | Zimbabwe | Zambia | Angola |
Algeria | Morocco | Tunisia | Libya | Sudan | Ethiopia | Somalia | Chile | Peru | Colombia | Venezuela |
Ecuador | Bolivia | Cuba | Bosnia | Croatia | Serbia | Albania | Chechnya | Georgia | Armenia |
Azerbaijan | Kazakhstan | the United States | New Zealand | Saudi Arabia | Kuwait | Cyprus
""")
NATIONALITIES = _words("""
British German French Spanish Italian Russian Japanese Chinese Indian Pakistani Brazilian Argentine
Mexican Canadian Australian Nigerian Kenyan Egyptian Israeli Iranian Iraqi Syrian Turkish Greek Polish
Hungarian Romanian Bulgarian Ukrainian Swedish Norwegian Danish Finnish Dutch Belgian Austrian Swiss
Portuguese Irish Indonesian Malaysian Thai Philippine Vietnamese Korean Taiwanese Afghan Rwandan
Algerian Moroccan Libyan Sudanese Chilean Peruvian Colombian Venezuelan Cuban Bosnian Croatian Serbian
Albanian Chechen Palestinian Kurdish Lebanese Jordanian Saudi American European Asian African Arab
""")
TOWN_HEADS = _words("""
Ash Bel Brent Cam Ches Dar Dun East Elm Fal Glen Green Hal Hart Kings Kirk Lan Lin Mans Mid Mor New Nor
Ox Pen Ply Port Red Rich South Stam Stan Stock Tam Wal War West Wey Win York Bran Carl Dor Hil
""")
TOWN_TAILS = _words("ton ford bury field ham wick mouth bridge wood stead minster borough burg stadt ville haven dale port")
ORG_STEMS = _words("""
Siemens Daimler Volvo Fiat Renault Nestle Unilever Shell Texaco Exxon Mobil Chevron Elf Total Hoechst
Bayer BASF Philips Sony Toshiba Hitachi Nissan Toyota Honda Boeing Airbus Lufthansa Alitalia Iberia
Deutsche Dresdner Commerzbank Barclays Lloyds NatWest Midland Nomura Daiwa Salomon Merrill Goldman
Reuters Gencor Anglo Rio BHP Norsk Statoil Repsol Petrobras Pemex Gazprom Lukoil Olivetti Ericsson
Nokia Alcatel Thomson Matra Saab Scania Rover Vauxhall Ford Chrysler IBM Intel Microsoft Compaq Apple
Digital Motorola Kodak Xerox Disney Kellogg Heinz Guinness Whitbread Cadbury Rothmans Glaxo Zeneca
Ciba Sandoz Roche Akzo Solvay Petrofina Tractebel Generale Suez Vivendi Lyonnaise Havas Hachette
Bertelsmann Pearson Granada Carlton Tesco Sainsbury Ahold Carrefour Metro Karstadt Hanson Tomkins
""")
SECTORS = _words("""
Mining Steel Chemicals Oil Gas Energy Power Electric Telecom Airlines Shipping Motors Insurance Bank
Finance Holdings Foods Brewing Textiles Paper Cement Engineering Construction Pharmaceuticals Electronics
Software Media Publishing Retail Trading Securities Investment Property Hotels Tobacco Sugar Coffee Rubber
Timber Fertiliser Aluminium Copper Gold Platinum Railways Ports Leasing Capital Industries Resources
""")
LEGAL_FORMS = _phrases("Corp | Inc | Ltd | Plc | AG | SA | NV | Group | Co | Holdings | International | GmbH | Bhd | AB")
INSTITUTIONS = _phrases("""
the European Commission | the Bundesbank | the central bank | the finance ministry | the United Nations |
the World Bank | NATO | the Labour party | the opposition | the federal court | the stock exchange |
the trade union | the police | the army | the government | parliament | the Treasury | the Red Cross |
the International Monetary Fund | the health ministry | the supreme court | the election commission |
the Foreign Office | the defence ministry | the regional council | the Federal Reserve | Congress |
the Senate | the White House | the Kremlin | the Duma | OPEC | the European Union | the Bank of England |
the Bank of Japan | the Conservative party | the Social Democrats | the Christian Democrats | UEFA |
FIFA | the International Olympic Committee | Amnesty International | the Red Crescent | the Vatican |
the interior ministry | the cabinet | the ruling coalition | the electoral court | the customs service
""")
TITLES = _phrases("""
Prime Minister | President | Chancellor | Foreign Minister | Finance Minister | Defence Minister |
Interior Minister | Trade Minister | Economy Minister | Justice Minister | Labour leader | opposition leader |
chief executive | chairman | managing director | spokesman | spokeswoman | analyst | economist | coach |
striker | goalkeeper | captain | police chief | mayor | governor | ambassador | envoy | general |
commander | prosecutor | judge | lawyer | senator | deputy | party leader | union leader | trader |
dealer | broker | director | president | secretary-general | bishop | rebel leader | negotiator
""")
NOUNS = _words("""
budget deficit rates tax plan exports imports shares share price talks merger strike election result
agreement market bonds inflation harvest prices ceasefire ruling loan unemployment currency profits debt
match reform privatisation crop crisis contract project sales deal cuts dispute drought rescue package
investigation bid referendum reserves results output growth demand supply earnings revenue dividend
stake offer takeover bankruptcy losses assets capital investment investors shareholders lenders bonds
yields futures contracts options index stocks dollar mark yen franc pound lira peseta rouble rupee
troops soldiers rebels guerrillas refugees civilians police officers protesters students workers farmers
miners voters delegates leaders officials ministers diplomats observers monitors inspectors journalists
fans players team squad league championship tournament cup final semi-final season title goal points
runs wickets innings century victory defeat draw penalty injury transfer coach race lap stage rally
border frontier province region capital village town city district coast island valley river port
airport railway highway bridge factory plant mine refinery warehouse hospital school court prison
embassy headquarters parliament assembly council committee commission agency ministry department
government coalition party movement union federation association alliance bloc faction army navy
weapons bombs mines missiles tanks aircraft helicopters ships shells rockets explosives guns bullets
attack raid ambush clash battle offensive siege blockade truce peace accord treaty pact summit meeting
conference visit tour campaign vote ballot poll survey report statement letter interview speech
warning threat demand appeal protest rally march boycott sanctions embargo aid grants credit subsidies
wages salaries pensions benefits jobs hours costs fees tariffs quotas duties levies charges fines
oil gas coal gold silver copper zinc nickel aluminium steel wheat maize rice sugar coffee cocoa cotton
rubber timber wool beef pork fish fruit vegetables fertiliser cement chemicals drugs vaccines computers
cars trucks engines tyres shoes textiles clothes paper plastics software chips phones satellites cables
airline carrier flights passengers tourists tourism hotels restaurants shops stores retailers consumers
households homes housing mortgages rents property land estates buildings offices towers stadium arena
hospitals doctors nurses patients disease epidemic outbreak cholera malaria virus cancer treatment
teachers pupils universities exams research scientists laboratory experiment discovery space shuttle
orbit launch mission astronauts crew pilots engineers technicians mechanics drivers engine accident
crash collision fire blaze explosion blast smoke flood storm hurricane cyclone typhoon earthquake quake
tremor landslide avalanche snow rain temperatures heat wave famine hunger food rations water supplies
electricity blackout grid pipeline tanker cargo freight containers exporters importers producers
manufacturers suppliers distributors dealers traders brokers bankers lawyers judges jury witnesses
evidence verdict trial hearing case charges indictment allegations fraud corruption bribery scandal
smuggling trafficking theft robbery murder kidnapping hostages ransom gunmen bandits militia
paramilitaries commandos marines peacekeepers convoy patrol checkpoint curfew funeral mourners victims
casualties bodies survivors relatives families children women youths veterans pensioners taxpayers
citizens residents villagers settlers immigrants exiles dissidents activists campaigners environmentalists
pollution emissions waste forests wildlife whales fishermen quota catch boats vessels fleet harbour
dock shipyard canal tunnel road motorway traffic bus train tram subway tickets fares mileage
newspaper magazine television radio broadcaster channel programme film festival exhibition museum
gallery concert album singer actor actress writer author poet painter novel book prize award honour
medal record champion champions runner-up winner losers favourite outsider odds bookmakers horse jockey
trainer stable racecourse golfer cyclist tennis cricket rugby soccer hockey baseball basketball boxing
""")
VERBS = _words("""
said told announced warned confirmed added insisted reported denied stressed explained rejected approved
signed agreed accepted refused postponed delayed cancelled extended raised cut lowered lifted imposed
eased tightened boosted trimmed doubled halved launched opened closed shut sold bought acquired merged
won lost beat defeated drew scored missed saved conceded led trailed finished ended started resumed
attacked killed wounded injured arrested detained freed released charged convicted sentenced jailed
fined sued appealed ruled banned allowed urged asked called demanded proposed offered promised pledged
threatened accused criticised praised welcomed condemned blamed backed supported opposed resisted
visited met hosted held attended joined left quit resigned replaced appointed named elected nominated
rose fell climbed slipped jumped recovered dropped gained declined steadied surged plunged tumbled
rallied slumped edged firmed weakened strengthened widened narrowed reached topped exceeded hit
forecast predicted estimated calculated projected revised adjusted reviewed examined studied assessed
negotiated mediated brokered settled resolved ended halted stopped blocked prevented vetoed overturned
upheld endorsed ratified adopted passed amended drafted tabled debated discussed considered dismissed
sacked fired hired recruited trained deployed withdrew evacuated rescued shelled bombed raided stormed
captured seized occupied liberated surrounded besieged invaded annexed expelled deported extradited
exported imported shipped delivered produced manufactured built constructed designed developed tested
unveiled introduced privatised nationalised restructured reorganised expanded reduced trimmed
slashed scrapped abolished reinstated restored renewed repaid borrowed lent invested financed funded
underwrote guaranteed insured paid earned spent saved owed collected distributed shared split
""")
ACTS = _phrases("""
would cut | planned to raise | had rejected | was studying | would not change | expected to sign |
had agreed to review | would oppose | had doubled | would delay | had approved | wanted to cap |
could not confirm | was ready to discuss | had criticised | would support | was likely to extend |
had postponed | hoped to complete | refused to comment on | would investigate | had suspended |
planned to sell | was considering | had ruled out | would scrap | was seeking | had frozen |
might revise | should abandon | would press ahead with | had underestimated | could block
""")
ADJECTIVES = _words("""
new strong weak high low higher lower big small major minor senior junior former first second third
final last next early late annual quarterly monthly weekly daily national regional local foreign
domestic international federal central economic political military financial commercial industrial
public private official secret heavy light sharp steady firm modest slight huge massive record
unexpected surprise fresh further key main leading top rival ruling opposition conservative liberal
socialist communist nationalist radical moderate independent separatist ethnic religious Moslem
Catholic Protestant Orthodox Jewish northern southern eastern western coastal rural urban outstanding
short long-term short-term full partial joint bilateral provisional interim emergency special
fierce bloody violent peaceful calm tense uneasy fragile stable volatile nervous cautious confident
optimistic pessimistic gloomy bullish bearish upbeat downbeat robust sluggish buoyant flat mixed
stronger weaker tighter looser cheaper dearer richer poorer bigger smaller wider narrower better worse
strategic tactical technical legal illegal constitutional presidential parliamentary municipal
provincial diplomatic humanitarian medical environmental agricultural nuclear chemical biological
electronic digital mobile wireless cable satellite offshore onshore overseas multinational
state-owned privately-held listed unlisted blue-chip second-line speculative defensive aggressive
""")
TIMES = _phrases("""
on Monday | on Tuesday | on Wednesday | on Thursday | on Friday | on Saturday | on Sunday | last week |
earlier this month | late on Thursday | this year | last month | in the morning | at the weekend |
two days ago | in August | in July | in September | in June | last year | next year | next week |
on Monday night | early on Friday | overnight | in the first half | in the second quarter |
in the year to June | since January | by March | until October | in late trading | at midday
""")
UNITS = _phrases("""
percent | million dollars | billion marks | points | million tonnes | billion yen | million pounds |
billion francs | cents | barrels a day | pence | marks | dollars | yen | lire | pesetas | guilders |
roubles | rupees | shares | tonnes | bales | ounces | runs | goals | seconds | minutes | people | votes
""")
REASONS = _phrases("""
weak demand | strong exports | political uncertainty | higher costs | a stronger dollar | poor weather |
lower taxes | fears of a recession | rising wages | a drop in orders | profit-taking | heavy selling |
bargain hunting | firm bonds | lower interest rates | a weaker yen | strong earnings | a labour dispute |
the floods | the civil war | tighter credit | the elections | lower oil prices | a fall in sales
""")
EVENTS = _phrases("""
a bomb exploded | heavy rain fell | fighting broke out | protesters gathered | a fire destroyed a warehouse |
a train derailed | troops were deployed | voters went to the polls | workers walked out |
an earthquake struck | police arrested three men | talks collapsed | a bus overturned | gunmen opened fire |
floods swept through | a ferry sank | a plane crashed | rebels seized a town | riots broke out |
prisoners escaped | a strike halted production | shares were suspended | a storm hit the coast
""")
LINKS = _phrases(", while | , but | and | , after | because | , although | as | , adding that | , and |"
                 " ; meanwhile , | , even though | before | since | , when | , saying | whereas | , and that")
OPENERS = _phrases("In | Earlier | Meanwhile , | However , | Separately , | Officials said that | On the other hand , |"
                   " According to analysts , | In a surprise move , | Last year , | By contrast , |"
                   " In another development , | Police said | Witnesses said | Dealers said | Analysts said")
CLUB_WORDS = _words("United City Rovers Athletic Wanderers Rangers Town Albion FC Dynamo Sporting Olympic")
COMPETITIONS = _phrases("first division | second division | league | cup | premier league | championship")
EVENTS_SPORT = _phrases("Open | Masters | Classic | Grand Prix | Invitational | championship | tournament")
ORDINALS = _words("first second third fourth final")
ADVERBS = _words("""
sharply slightly steadily strongly heavily narrowly firmly broadly largely mainly partly fully
quickly slowly suddenly finally formally officially publicly privately jointly separately again
also still already only just nearly almost
""")
