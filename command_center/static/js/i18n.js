// Every user-visible string of the console, Chinese first and English second, in one dictionary
// so that translators (and reviewers) find them in one place.

const STRINGS = {
  zh: {
    appTitle: 'Linkage 应急联动指挥台',
    skipToList: '跳到事件列表',
    langHint: '切换界面语言',
    langButton: 'EN',
    signOut: '退出',
    incidents: '事件',
    listHint: '按级别、时间排序',
    noIncidents: '暂无事件',
    map: '地图',
    legend: '图例',
    unacknowledged: '未确认',
    close: '关闭',
    signInTitle: '登录指挥台',
    username: '用户名',
    password: '密码',
    signIn: '登录',
    signingIn: '正在登录…',
    signInFailed: '用户名或密码错误',
    signInUnreachable: '无法连接服务器，请稍后再试',
    sessionExpired: '登录已失效，请重新登录',
    'conn.idle': '未连接',
    'conn.connecting': '连接中…',
    'conn.open': '已连接',
    'conn.reconnecting': '重连中…',
    'conn.closed': '已断开',
    counts: '{open} 起事件 · {new} 起未确认',
    basemapFailed: '底图暂不可用（{layers}），事件仍实时显示',
    newTag: '新',
    events: '{n} 条报告',
    eventsOne: '1 条报告',
    'level.I': '特别重大',
    'level.II': '重大',
    'level.III': '较大',
    'level.IV': '一般',
    levelName: '{roman}级 · {name}',
    'category.fire': '火灾',
    'category.traffic_accident': '交通事故',
    'category.crime': '治安案件',
    'category.medical': '医疗急救',
    'category.rescue': '救援',
    'category.hazmat': '危化品事故',
    'category.collapse': '坍塌',
    'category.flood': '洪涝',
    'category.other': '其他',
    'status.new': '新事件',
    'status.acknowledged': '已确认',
    'status.responding': '处置中',
    'status.contained': '已控制',
    'status.closed': '已关闭',
    'task.proposed': '待派',
    'task.assigned': '已指派',
    'task.accepted': '已接受',
    'task.done': '已完成',
    'task.cancelled': '已取消',
    unknownPlace: '位置待查',
    'field.level': '级别',
    'field.category': '类别',
    'field.status': '状态',
    'field.place': '地点',
    'field.events': '报告数',
    'field.opened': '接报时间',
    'field.updated': '更新时间',
    'field.position': '坐标',
    'field.id': '编号',
    explanation: '研判依据',
    tasks: '联动任务',
    noTasks: '暂无任务',
    acknowledge: '确认接警',
    ackFailed: '确认失败',
  },
  en: {
    appTitle: 'Linkage emergency command console',
    skipToList: 'Skip to the incident list',
    langHint: 'Switch the interface language',
    langButton: '中文',
    signOut: 'Sign out',
    incidents: 'Incidents',
    listHint: 'by level, then time',
    noIncidents: 'No incidents',
    map: 'Map',
    legend: 'Legend',
    unacknowledged: 'Unacknowledged',
    close: 'Close',
    signInTitle: 'Sign in to the console',
    username: 'Username',
    password: 'Password',
    signIn: 'Sign in',
    signingIn: 'Signing in…',
    signInFailed: 'Wrong username or password',
    signInUnreachable: 'The server cannot be reached; try again shortly',
    sessionExpired: 'Your session is no longer valid; please sign in again',
    'conn.idle': 'Not connected',
    'conn.connecting': 'Connecting…',
    'conn.open': 'Connected',
    'conn.reconnecting': 'Reconnecting…',
    'conn.closed': 'Disconnected',
    counts: '{open} incidents · {new} unacknowledged',
    basemapFailed: 'Basemap unavailable ({layers}); incidents are still live',
    newTag: 'NEW',
    events: '{n} reports',
    eventsOne: '1 report',
    'level.I': 'Extraordinary',
    'level.II': 'Major',
    'level.III': 'Significant',
    'level.IV': 'General',
    levelName: '{roman} · {name}',
    'category.fire': 'Fire',
    'category.traffic_accident': 'Traffic accident',
    'category.crime': 'Public order',
    'category.medical': 'Medical emergency',
    'category.rescue': 'Rescue',
    'category.hazmat': 'Hazardous materials',
    'category.collapse': 'Collapse',
    'category.flood': 'Flood',
    'category.other': 'Other',
    'status.new': 'New',
    'status.acknowledged': 'Acknowledged',
    'status.responding': 'Responding',
    'status.contained': 'Contained',
    'status.closed': 'Closed',
    'task.proposed': 'Proposed',
    'task.assigned': 'Assigned',
    'task.accepted': 'Accepted',
    'task.done': 'Done',
    'task.cancelled': 'Cancelled',
    unknownPlace: 'Place pending',
    'field.level': 'Level',
    'field.category': 'Category',
    'field.status': 'Status',
    'field.place': 'Place',
    'field.events': 'Reports',
    'field.opened': 'Opened',
    'field.updated': 'Updated',
    'field.position': 'Position',
    'field.id': 'Id',
    explanation: 'Why this level',
    tasks: 'Tasks by agency',
    noTasks: 'No tasks yet',
    acknowledge: 'Acknowledge',
    ackFailed: 'Could not acknowledge',
  },
};

// The 17 participating agencies (streams.domain.AGENCIES); unknown codes are shown as sent.
const AGENCIES = {
  'public-security': ['公安厅', 'Public Security'],
  fire: ['消防救援', 'Fire and Rescue'],
  health: ['卫生厅', 'Health'],
  water: ['水利厅', 'Water Resources'],
  meteorology: ['气象局', 'Meteorology'],
  earthquake: ['地震局', 'Earthquake'],
  'work-safety': ['安全生产监督管理局', 'Work Safety'],
  transport: ['交通厅', 'Transport'],
  military: ['省军区', 'Provincial Military District'],
  agriculture: ['农业厅', 'Agriculture'],
  construction: ['建设厅', 'Construction'],
  'state-security': ['国家安全厅', 'State Security'],
  information: ['信息产业厅', 'Information Industry'],
  communications: ['通信管理局', 'Communications'],
  forestry: ['林业局', 'Forestry'],
  radio: ['无线电管理局', 'Radio Administration'],
  surveying: ['测绘局', 'Surveying and Mapping'],
};

const STORAGE_KEY = 'linkage.lang';
const listeners = new Set();
let lang = localStorage.getItem(STORAGE_KEY) === 'en' ? 'en' : 'zh';

export function getLang() {
  return lang;
}

export function setLang(next) {
  lang = next === 'en' ? 'en' : 'zh';
  localStorage.setItem(STORAGE_KEY, lang);
  document.documentElement.lang = lang === 'zh' ? 'zh-CN' : 'en';
  applyI18n(document);
  for (const listener of listeners) listener(lang);
}

export function onLangChange(listener) {
  listeners.add(listener);
}

// t('counts', {open: 3}) → '3 起事件 …'. A missing key falls back to Chinese, then to the key,
// so a gap in the English table never leaves the operator with an empty label.
export function t(key, vars = {}) {
  const text = STRINGS[lang][key] ?? STRINGS.zh[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (whole, name) => (name in vars ? String(vars[name]) : whole));
}

// Known codes get their translation; codes added later by other detectors are shown verbatim.
export function label(prefix, code) {
  const key = `${prefix}.${code}`;
  return key in STRINGS.zh ? t(key) : String(code ?? '');
}

export function agencyName(code) {
  const names = AGENCIES[code];
  if (!names) return { primary: code, secondary: '' };
  return lang === 'zh'
    ? { primary: names[0], secondary: names[1] }
    : { primary: names[1], secondary: names[0] };
}

// Task actions come from the rule set as "中文 / English": show the part of the current language.
export function bilingual(text) {
  const parts = String(text ?? '').split(' / ');
  if (parts.length !== 2) return String(text ?? '');
  return lang === 'zh' ? parts[0] : parts[1];
}

// Elements declare what they show: data-i18n="key" for text, data-i18n-attr="attr:key;…".
export function applyI18n(root) {
  for (const element of root.querySelectorAll('[data-i18n]')) {
    element.textContent = t(element.dataset.i18n);
  }
  for (const element of root.querySelectorAll('[data-i18n-attr]')) {
    for (const pair of element.dataset.i18nAttr.split(';')) {
      const [attr, key] = pair.split(':');
      if (attr && key) element.setAttribute(attr.trim(), t(key.trim()));
    }
  }
}

export function formatTime(iso) {
  if (!iso) return '';
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return String(iso);
  return new Intl.DateTimeFormat(lang === 'zh' ? 'zh-CN' : 'en-GB', {
    year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit',
  }).format(date);
}
